"""Plots and tables for people: figures of a campaign's results."""

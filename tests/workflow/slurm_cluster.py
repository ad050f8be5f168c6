"""A real single-node SLURM cluster on this machine, for tests (docs/slurm.md).

Debian's ``slurm-wlm`` and ``munge`` (installed here when missing, as root, without starting
their services), loopback only. The configuration must sit at /etc/slurm/slurm.conf: the
Snakemake SLURM plugin deletes every ``SLURM_*`` variable (``SLURM_CONF`` too) inside jobs,
so ``srun`` there finds only the default path. It is written there marked as ours, never over
a file that is not, and removed at the end; state, spool and logs stay in a private folder. One
node with this machine's CPUs and memory and a fake GPU (``Gres=gpu:1`` backed by /dev/null),
no accounting (status is polled with ``squeue``; finished jobs stay visible for 5 minutes).
Daemons are started directly and stopped by the pids in their pid files.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ["slurm-wlm", "munge"]
DAEMONS = {"slurmctld": "/usr/sbin/slurmctld", "slurmd": "/usr/sbin/slurmd"}
PARTITION = "debug"
CONF_DIR = Path("/etc/slurm")
MARK = "# hopformer test cluster (tests/workflow/slurm_cluster.py); removed when it stops\n"


class SlurmUnavailable(RuntimeError):
    """This machine cannot run the test cluster; the message says why."""


def install() -> None:
    """Install the Debian packages if missing (root only), keeping their services stopped."""
    if all(shutil.which(Path(p).name) for p in [*DAEMONS.values(), "/usr/sbin/munged"]):
        return
    if os.geteuid() != 0:
        raise SlurmUnavailable("slurm-wlm and munge are not installed and this is not root")
    if not shutil.which("apt-get"):
        raise SlurmUnavailable("slurm-wlm and munge are not installed and there is no apt-get")
    policy = Path("/usr/sbin/policy-rc.d")
    had_policy = policy.exists()
    if not had_policy:  # packages must not start their daemons on install
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for args in (
            ["update", "-qq"],
            ["install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
        ):
            proc = subprocess.run(
                ["apt-get", *args], env=env, capture_output=True, text=True, timeout=600
            )
            if proc.returncode:
                raise SlurmUnavailable(f"apt-get {' '.join(args)} failed: {proc.stderr[-2000:]}")
    finally:
        if not had_policy:
            policy.unlink(missing_ok=True)


def _node_line() -> str:
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("NodeName="))
    fields = dict(f.split("=", 1) for f in line.split())
    fields.pop("UpTime", None)
    memory = int(fields.pop("RealMemory"))
    keep = " ".join(f"{k}={v}" for k, v in fields.items() if k != "NodeName")
    return f"{keep} RealMemory={memory - 512} Gres=gpu:1"


class LocalSlurm:
    """Context manager: a running one-node cluster; ``env`` points clients at it."""

    def __init__(self, root: Path):
        self.root = root
        self.host = socket.gethostname().split(".")[0]
        self.pids: dict[str, int] = {}
        self.started: list[str] = []

    conf = CONF_DIR / "slurm.conf"
    gres = CONF_DIR / "gres.conf"

    @property
    def env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}

    def _write_config(self) -> None:
        r = self.root
        for d in ("state", "spool", "log", "run"):
            (r / d).mkdir(parents=True, exist_ok=True)
        for path in (self.conf, self.gres):
            if path.exists() and not path.read_text().startswith(MARK):
                raise SlurmUnavailable(
                    f"{path} exists and is not the test cluster's; refusing "
                    f"to replace a real SLURM configuration"
                )
        CONF_DIR.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            MARK
            + f"""ClusterName=hopformer-test
SlurmctldHost={self.host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=3600
SchedulerParameters=batch_sched_delay=0
MailProg=/bin/true
ReturnToService=2
GresTypes=gpu
NodeName={self.host} NodeAddr=127.0.0.1 {_node_line()} State=UNKNOWN
PartitionName={PARTITION} Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
"""
        )
        self.gres.write_text(MARK + f"NodeName={self.host} Name=gpu File=/dev/null\n")

    def _munge(self) -> None:
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # a munged is already running
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            subprocess.run(["runuser", "-u", "munge", "--", "mungekey", "--create"], check=True)
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)
        self.started.append("munged")
        pidfile = Path("/run/munge/munged.pid")
        self._wait(
            lambda: pidfile.exists() and pidfile.read_text().strip().isdigit(),
            f"munged to write its pid to {pidfile}",
        )
        self.pids["munged"] = int(pidfile.read_text())

    def __enter__(self) -> LocalSlurm:
        install()
        self._write_config()
        try:
            self._munge()
            for name, exe in DAEMONS.items():
                subprocess.run([exe], env=self.env, check=True, capture_output=True, timeout=60)
                pidfile = self.root / "run" / f"{name}.pid"
                # The daemon creates its pid file before it writes the pid into it.
                self._wait(
                    lambda p=pidfile: p.exists() and p.read_text().strip().isdigit(),
                    f"{name} to write its pid to {pidfile}",
                )
                self.pids[name] = int(pidfile.read_text())
            self._wait(
                lambda: self.run("scontrol", "ping", check=False).count("UP") >= 1,
                "slurmctld to answer scontrol ping",
            )
            self._wait(
                lambda: self.run("sinfo", "-h", "-N", "-o", "%t").strip() == "idle",
                "the node to be idle",
            )
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def run(self, *argv: str, check: bool = True) -> str:
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)
        if check and proc.returncode:
            raise RuntimeError(f"{' '.join(argv)}: {proc.stderr}")
        return proc.stdout

    def _wait(self, condition, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except (RuntimeError, subprocess.SubprocessError, OSError, ValueError):
                pass
            time.sleep(0.2)
        logs = "".join(p.read_text()[-1500:] for p in (self.root / "log").glob("*.log"))
        raise SlurmUnavailable(f"timed out waiting for {what}; daemon logs:\n{logs}")

    def stop(self) -> None:
        """Stop the daemons this object started, by pid (checking the pid is still theirs)."""
        for name in ["slurmd", "slurmctld", *reversed(self.started)]:
            pid = self.pids.pop(name, None)
            if pid is None:
                continue
            comm = Path(f"/proc/{pid}/comm")
            if comm.exists() and comm.read_text().strip() == name:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 20
                while comm.exists() and time.monotonic() < deadline:
                    time.sleep(0.1)
                if comm.exists():
                    os.kill(pid, signal.SIGKILL)
        self.started.clear()
        for path in (self.conf, self.gres):
            if path.exists() and path.read_text().startswith(MARK):
                path.unlink()

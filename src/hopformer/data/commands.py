"""Command of the dataset stage (rule make_dataset)."""

from __future__ import annotations

from hopformer.config import add_flags
from hopformer.console import show
from hopformer.data.dataset import SplitSpec, make_dataset


class MakeDataset:
    """deduplicate the transitions and split them by initial state"""

    @staticmethod
    def add_arguments(p):
        p.add_argument("--transitions", nargs="+", required=True, help="transitions Parquet files")
        p.add_argument("--out-dir", required=True, help="folder of train/val/test.parquet")
        p.add_argument("--manifest", default=None, help="manifest JSON (default: in --out-dir)")
        add_flags(p, "make-dataset")

    @staticmethod
    def run(args):
        spec = SplitSpec(
            val_fraction=args.val_fraction, test_fraction=args.test_fraction, seed=args.seed
        )
        show(make_dataset(args.transitions, args.out_dir, spec, args.manifest)["splits"])

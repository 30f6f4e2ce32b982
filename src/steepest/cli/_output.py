"""What the CLI shows: progress bars, one line per epoch, tables."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from steepest.train import Callback, Trainer

__all__ = ["EpochPrinter", "ProgressBar", "format_epoch", "print_table"]


def format_epoch(row: dict[str, Any], epochs: int) -> str:
    """``epoch 3/10 | loss 0.2134 | acc 0.9397 | ... | lr 1.00e-02 | 0.41 s``.

    Seconds get two decimals below 10 s and one from there on.
    """
    parts = [f"epoch {row['epoch']}/{epochs}"]
    for key in ("loss", "acc", "dev_loss", "dev_acc"):
        if row.get(key) is not None:
            parts.append(f"{key} {row[key]:.4f}")
    parts.append(f"lr {row['lr']:.2e}")
    seconds = row["seconds"]
    # Two decimals for fast epochs, so that they do not all show 0.0 s.
    parts.append(f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s")
    return " | ".join(parts)


class ProgressBar(Callback):
    """A tqdm bar per epoch with the running loss; on stderr, gone when done."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.bar: tqdm | None = None

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Open the bar."""
        if self.enabled:
            self.bar = tqdm(
                total=len(trainer.train_loader),
                desc=f"epoch {epoch + 1}",
                unit="batch",
                leave=False,
                file=sys.stderr,
            )

    def on_batch_end(
        self, trainer: Trainer, batch: int, batches: int, running_loss: float
    ) -> None:
        """Advance the bar."""
        if self.bar is not None:
            self.bar.update(1)
            if batch % 10 == 0 or batch == batches:
                self.bar.set_postfix(loss=f"{running_loss:.4f}", refresh=False)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        """Close the bar."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_train_end(self, trainer: Trainer) -> None:
        """Close a bar left open by an interruption."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class EpochPrinter(Callback):
    """Prints one fixed-format line per epoch to stdout."""

    def on_train_begin(self, trainer: Trainer) -> None:
        """Remember the total number of epochs."""
        self.epochs = trainer.target_epochs

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        """Print the line."""
        tqdm.write(format_epoch(row, self.epochs), file=sys.stdout)
        sys.stdout.flush()


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain aligned table."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)))
    print(line)
    for row in cells[1:]:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                        enumerate(zip(row, widths, strict=True))))  # fmt: skip

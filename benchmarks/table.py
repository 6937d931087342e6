"""Printing benchmark rows: `{name, baseline, value, ratio, aim}` with times in seconds."""
from typing import List


def print_table(title: str, rows: List[dict]):
    print(title)
    print(f"{'measurement':70s}{'baseline':>12s}{'measured':>12s}{'ratio':>9s}  aim")
    for row in rows:
        print(f"{row['name']:70s}{row['baseline'] * 1e3:10.2f}ms{row['value'] * 1e3:10.2f}ms{row['ratio']:9.2f}  {row['aim']}")

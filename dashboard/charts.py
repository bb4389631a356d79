"""Charts drawn on the server as inline SVG: no script, no CDN, light on a phone."""
from __future__ import annotations

from datetime import date
from typing import Callable

from markupsafe import Markup, escape

_WIDTH, _HEIGHT, _AXIS = 300, 100, 14  # the viewBox; the bottom band holds the dates


def bar_chart(days: list[dict], figure: str, label: str, show: Callable[[int], str] = "{:,}".format) -> Markup:
    """One bar per day of `days` (daily_metrics' rows, oldest first) for `figure`, up from the
    zero line, or down from it for a value below zero (points redeemed, on a day refunds
    outweigh them); the last bar, today, stands out. Each bar's title tells its day and value."""
    values = [day[figure] for day in days]
    high, low = max(max(values), 0), min(min(values), 0)
    plot = _HEIGHT - _AXIS
    scale = plot / ((high - low) or 1)
    zero = round(plot + low * scale, 1)  # the bottom of the plot unless a value is below zero
    slot = _WIDTH / len(values)
    bars = []
    for i, (day, value) in enumerate(zip(days, values)):
        height = round(abs(value) * scale, 1)
        top = zero - height if value > 0 else zero
        kind = "bar today" if i == len(values) - 1 else "bar"
        bars.append(
            f'<rect class="{kind}" x="{i * slot + 1:.1f}" y="{top:.1f}" width="{slot - 2:.1f}" height="{height}">'
            f"<title>{_day(day['date'])}: {escape(show(value))}</title></rect>"
        )
    first, last = _day(days[0]["date"]), _day(days[-1]["date"])
    lowest = f'<text class="tick" x="{_WIDTH}" y="9" text-anchor="end">min {escape(show(low))}</text>' if low < 0 else ""
    return Markup(
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{escape(label)}, last {len(days)} days">'
        f'<line class="axis" x1="0" y1="{zero}" x2="{_WIDTH}" y2="{zero}"/>{"".join(bars)}'
        f'<text class="tick" x="0" y="{_HEIGHT - 2}">{first}</text>'
        f'<text class="tick" x="{_WIDTH}" y="{_HEIGHT - 2}" text-anchor="end">{last}</text>'
        f'<text class="tick" x="0" y="9">max {escape(show(max(values)))}</text>{lowest}</svg>'
    )


def _day(day: date) -> str:
    return f"{day.day} {day:%b}"

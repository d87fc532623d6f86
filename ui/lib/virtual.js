// Which rows of a long list to render: only those in view, plus a few either side, so
// 10,000 accounts scroll as smoothly as 10.

/**
 * @returns {{start: number, end: number}} rows [start, end) to render.
 */
export function visibleRange(scrollTop, viewportHeight, rowHeight, count, overscan = 8) {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const shown = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  // A scroll position past the end (the list just got shorter) shows the last screenful.
  const first = Math.min(Math.floor(Math.max(0, scrollTop) / rowHeight), Math.max(0, count - shown));
  const start = Math.max(0, Math.min(count - 1, first - overscan));
  const end = Math.min(count, first + shown + overscan);
  return { start, end: Math.max(start, end) };
}

/** The scrollTop that brings row `index` fully into view, or `null` if it already is. */
export function scrollToReveal(index, scrollTop, viewportHeight, rowHeight) {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight) return bottom - viewportHeight;
  return null;
}

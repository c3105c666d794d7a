// Small text helpers for reports and errors.

/** "1 image" / "3 images". */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}

/** At most `max` names, then "… and N more", so one bad folder does not flood the terminal. */
export function listSome(items: readonly string[], max = 20): string[] {
  if (items.length <= max) return [...items];
  return [...items.slice(0, max), `… and ${items.length - max} more`];
}

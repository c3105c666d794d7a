/**
 * Splits a command line the way a POSIX shell would (quotes and backslashes, no expansion),
 * so `parseOptions('--dataroot "my data" --name x')` works like the same words typed in bash.
 */
export function shellSplit(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i];
    if (quote === "'") {
      if (ch === "'") quote = null;
      else word += ch;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = null;
      // Inside double quotes a backslash only escapes $ ` " \ and newline.
      else if (ch === '\\' && i + 1 < line.length && '$`"\\\n'.includes(line[i + 1])) word += line[++i];
      else word += ch;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord) { words.push(word); word = ''; inWord = false; }
      continue;
    }
    inWord = true;
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '\\' && i + 1 < line.length) word += line[++i];
    else word += ch;
  }
  if (quote) throw new Error(`Expected a closing ${quote} for the command line but received ${JSON.stringify(line)}`);
  if (inWord) words.push(word);
  return words;
}

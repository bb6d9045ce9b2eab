const plurals = new Intl.PluralRules('en');

/** "1 device", "3 devices", "0 devices": a count with its noun in the right number. */
export function countNoun(count: number, one: string, other = `${one}s`): string {
  return `${count.toLocaleString('en')} ${plurals.select(count) === 'one' ? one : other}`;
}

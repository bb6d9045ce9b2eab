const KINDS = ['r', 'w', 'x'] as const;

/** Permission bits as `ls -l` and `chmod` show them: 0o4755 → "4755 rwsr-xr-x". */
export function formatMode(mode: number): string {
  const letters = [6, 3, 0].map((shift, who) => {
    const bits = (mode >> shift) & 7;
    const text: string[] = KINDS.map((kind, i) => ((bits >> (2 - i)) & 1 ? kind : '-'));
    // setuid, setgid, sticky replace the owner's, group's and others' x.
    const special = (mode >> (11 - who)) & 1;
    if (special) text[2] = who === 2 ? (bits & 1 ? 't' : 'T') : bits & 1 ? 's' : 'S';
    return text.join('');
  });
  return `${(mode & 0o7777).toString(8).padStart(4, '0')} ${letters.join('')}`;
}

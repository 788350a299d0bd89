// The names of files under the cache's tmp/: one rule, read by fills, their cleanup and recovery.
// A fill writes `<owner>~<seq>.tmp` (its claim's temp file); a filler may make siblings next to it
// named `<owner>~<seq>.tmp.<anything>` (e.g. a downloader's `.part`). The owner is the process's
// cache identity, so recovery can tell whose a stray file is.

/** The temp file name of an owner's `seq`-th claim. */
export function tempName(owner: string, seq: number): string {
  return `${owner}~${seq.toString(36)}.tmp`;
}

/** The owner a temp file (or a sibling of one) belongs to, or undefined for a foreign name. */
export function ownerOfTemp(name: string): string | undefined {
  const at = name.indexOf('~');
  return at > 0 ? name.slice(0, at) : undefined;
}

/** The claim temp file a sibling (`<tmp>.<suffix>`) belongs to; undefined for anything else. */
export function tempOfSibling(name: string): string | undefined {
  const at = name.indexOf('~');
  if (at <= 0) return undefined;
  const end = name.indexOf('.tmp.', at);
  return end < 0 ? undefined : name.slice(0, end + 4);
}

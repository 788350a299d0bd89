import { describe, expect, it } from 'vitest';
import { ownerOfTemp, tempName, tempOfSibling } from './tempNames.js';

describe('temp file names', () => {
  const owner = '4242.1733600000.k3';
  const tmp = tempName(owner, 37);

  it('name a claim by its owner and sequence, and give the owner back', () => {
    expect(tmp).toBe(`${owner}~11.tmp`);
    expect(ownerOfTemp(tmp)).toBe(owner);
    expect(ownerOfTemp(`${tmp}.part`)).toBe(owner);
    expect(ownerOfTemp('stray-file')).toBeUndefined();
    expect(ownerOfTemp('~1.tmp')).toBeUndefined();
  });

  it('tie a sibling to its claim, and nothing else', () => {
    expect(tempOfSibling(`${tmp}.part`)).toBe(tmp);
    expect(tempOfSibling(`${tmp}.part.tmp.x`)).toBe(tmp);
    expect(tempOfSibling(tmp)).toBeUndefined(); // the claim's own file is not its sibling
    expect(tempOfSibling(`${tempName(owner, 3)}.part`)).not.toBe(tmp);
    expect(tempOfSibling('x.tmp.part')).toBeUndefined(); // no owner
  });
});

// The README's first example, run as written from the repository root: it prints what its comments
// say. The other code block is listed with why it is not run.

import { join } from 'node:path';
import { classifyBlocks, commentedOutput, REPO_ROOT, runTsExample } from '@streams/testkit';
import { describe, expect, it } from 'vitest';

const [example] = classifyBlocks('packages/transforms/README.md', ['imageClassification('], {
  "offset: 'random' });":
    'a fragment: `bytes`, `seed`, `epoch`, `sampleId` and `signal` come from your loader (src/presets.test.ts runs videoClip)',
  'reader: engine':
    'a fragment: the bucket and `seed`, `epoch`, `sampleId` come from your job (test/remoteMedia.test.ts and multistream test/remoteVideo.test.ts run it against node:http and s3rver)',
});

describe('README', { timeout: 60_000 }, () => {
  it('the first example runs and prints what the comments say', async () => {
    const want = commentedOutput(example!);
    expect(want).toEqual([
      '[ 3, 224, 224 ] Float32Array 3',
      'true',
      'undefined { ok: 0, failed: 1, skipped: 1, replaced: 0 }',
    ]);
    const r = await runTsExample(example!, join(REPO_ROOT, 'packages/transforms'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual(want);
  });
});

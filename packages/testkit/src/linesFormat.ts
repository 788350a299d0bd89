// A shard format written the way a user adds one: this file and one `registerFormat(linesFormat)`.
// `.lines` files (a file, or a directory of them) hold one sample per non-empty line; each file is a
// unit. Tests register it to prove that openDataset, `streams cat` and StreamingDataset read a new
// format with nothing else changed. (The test kit may not depend on @streams/index, whose tests use
// it, so the few types it needs are spelled out here; `registerFormat` checks them structurally.)
import { StreamsError } from '@streams/core';

type Sample = Record<string, unknown>;
interface Source {
  list(url: string, o?: { signal?: AbortSignal }): Promise<string[]>;
  fetch(
    url: string,
    o?: { signal?: AbortSignal; size?: number },
  ): Promise<{ bytes: Uint8Array; hit: boolean }>;
}
interface FormatUnit {
  readonly name: string;
  samples: number | undefined;
  readonly bytes: number | undefined;
  readonly files: readonly { url: string; size?: number }[];
}
interface LoadedUnit {
  readonly samples: number;
  readonly memoryBytes: number;
  readonly hit: boolean;
  decode(j: number): Sample;
  release(): Promise<void>;
}

const LINES = /\.lines$/i;
const basenameUrl = (url: string) => url.replace(/\/+$/, '').split('/').pop() ?? '';

function linesOf(bytes: Uint8Array): string[] {
  return new TextDecoder()
    .decode(bytes)
    .split('\n')
    .filter((l) => l.trim() !== '');
}

/** `{ __key__: "<file>:<j>", text, index }` for line j of a file. */
function sampleOf(file: string, lines: readonly string[], j: number): Sample {
  return { __key__: `${basenameUrl(file)}:${j}`, text: lines[j], index: j };
}

/** The `lines` test format: one sample per line of `.lines` files. */
export const linesFormat = {
  name: 'lines',
  description: 'test format: .lines files, one sample per non-empty line',
  matchName: (url: string) => (LINES.test(basenameUrl(url)) ? 1 : 0),
  async open(url: string, o: { source: Source; signal?: AbortSignal }) {
    const files = LINES.test(basenameUrl(url))
      ? [url]
      : (await o.source.list(url, { signal: o.signal })).filter((f) => LINES.test(basenameUrl(f)));
    if (files.length === 0)
      throw new StreamsError('STREAMS_NOT_FOUND', `[lines] ${url} holds no .lines files`, {
        url,
        fix: 'point at a .lines file or a directory of them',
      });
    // The files are small: reading them at open gives the counts (and fills the node cache).
    const units: FormatUnit[] = [];
    for (const f of files) {
      const { bytes } = await o.source.fetch(f, { signal: o.signal });
      units.push({
        name: basenameUrl(f),
        samples: linesOf(bytes).length,
        bytes: bytes.byteLength,
        files: [{ url: f, size: bytes.byteLength }],
      });
    }
    return {
      format: 'lines' as const,
      url,
      units,
      columns: [
        { name: '__key__', type: 'str' },
        { name: 'text', type: 'str' },
        { name: 'index', type: 'int' },
      ],
      totalBytes: units.reduce((a, u) => a + (u.bytes ?? 0), 0),
      count: async () => units.reduce((a, u) => a + (u.samples ?? 0), 0),
      async load(k: number, options: { signal?: AbortSignal } = {}): Promise<LoadedUnit> {
        const file = files[k] as string;
        const { bytes, hit } = await o.source.fetch(file, {
          signal: options.signal,
          size: units[k]?.bytes,
        });
        const lines = linesOf(bytes);
        return {
          samples: lines.length,
          memoryBytes: bytes.byteLength,
          hit,
          decode: (j: number) => sampleOf(file, lines, j),
          release: async () => {},
        };
      },
      close: async () => {},
    };
  },
};

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MEMORY_POLICIES } from '@streams/cl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sink } from '../test/helpers.js';
import { applySets, keysAt, loadConfig, readConfigFile, validateConfig } from './configLoad.js';
import { DEFAULT_JOB } from './defaultJob.js';
import { EXIT, main } from './main.js';
import { runConfigJsonSchema } from './runConfig.js';
import { TRAIN_FLAGS } from './trainCommand.js';

const root = join(import.meta.dirname, '..', '..', '..');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streams-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(text: string): Promise<string> {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, text);
  return file;
}

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

async function messageOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => {
      throw new Error('expected an error');
    },
    (e: Error) => e.message,
  );
}

describe('run config', () => {
  it('names the field path, the file line, what was expected and found, and suggests the key', async () => {
    const file = await configFile(
      [
        'name: t',
        'streams:',
        '  - name: a',
        '    dataset: mnist',
        '    proportoin: 0.5',
        'train:',
        '  epochs: two',
        '',
      ].join('\n'),
    );
    const m = await messageOf(loadConfig({ file }));
    expect(m).toMatch(
      /streams\[0\]\.proportoin \(.*:3:5\): unknown key; did you mean "proportion"\?/,
    );
    expect(m).toMatch(/train\.epochs \(.*:7:11\): expected number, found string "two"/);
  });

  it('lists the allowed values of an enum, with a suggestion', () => {
    const m = message(() =>
      validateConfig({ streams: [{ name: 'a', dataset: 'mnist' }], data: { order: 'shufle' } }),
    );
    expect(m).toMatch(
      /data\.order: expected one of "shuffle", "fixed", "sequential", "interleave", found string "shufle"; did you mean "shuffle"\?/,
    );
  });

  it('takes every memory policy @streams/cl has, and no other', () => {
    const withPolicy = (policy: string) => {
      const job = structuredClone(DEFAULT_JOB);
      job.learners![1]!.strategy = [{ name: 'agem', policy, perClass: 25 } as never];
      return validateConfig(job);
    };
    for (const policy of MEMORY_POLICIES)
      expect(withPolicy(policy).learners[1]!.strategy[0]).toMatchObject({ policy });
    expect(message(() => withPolicy('fifo'))).toMatch(/policy: expected one of/);
  });

  it('refuses a stream with both or neither of dataset and url, and two weights', () => {
    const m = message(() =>
      validateConfig({
        streams: [
          { name: 'a' },
          { name: 'b', dataset: 'mnist', url: '/x', proportion: 1, choose: 3 },
        ],
      }),
    );
    expect(m).toMatch(/streams\[0\]\.dataset: give exactly one of dataset/);
    expect(m).toMatch(/streams\[1\]\.url: give exactly one of dataset/);
    expect(m).toMatch(/streams\[1\]\.proportion: give at most one of proportion, repeat, choose/);
  });

  it('--set reaches every field, typed by YAML, and refuses paths that do not exist', async () => {
    const c = await loadConfig({
      fallback: DEFAULT_JOB,
      sets: [
        'learners[1].optimizer.lr=0.01',
        'streams.0.proportion=0.5',
        'experiences.tasks=[[0,1],[2,3]]',
        'data.cacheLimit=1gb',
        'report.png=false',
      ],
    });
    expect(c.learners[1]!.optimizer.lr).toBe(0.01);
    expect(c.streams[0]!.proportion).toBe(0.5);
    expect(c.experiences.tasks).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(c.data.cacheLimit).toBe('1gb');
    expect(c.report.png).toBe(false);
    expect(message(() => applySets({}, ['train.epoch=3']))).toMatch(
      /train\.epoch is not a config field\. Did you mean "train\.epochs"\?/,
    );
    expect(message(() => applySets({}, ['learners[0].optimiser.lr=1']))).toMatch(
      /Did you mean "learners\[0\]\.optimizer"\?/,
    );
    expect(message(() => applySets({}, ['noequals']))).toMatch(/has no "=": write path=value/);
  });

  it('reports YAML syntax errors with the line', async () => {
    const file = await configFile('name: [unclosed\nseed: 1\n');
    expect(await messageOf(readConfigFile(file))).toMatch(/\.yaml:\d+: /);
  });

  it('every flag that stands for a config field names a real field', () => {
    for (const [flag, spec] of Object.entries(TRAIN_FLAGS)) {
      if (!('config' in spec)) continue;
      const path = spec.config.split('.');
      expect(keysAt(path.slice(0, -1)), `--${flag}`).toContain(path[path.length - 1]);
    }
  });

  it('flags set their config fields, and --print-config shows the effective config', async () => {
    const out = sink();
    const err = sink();
    const code = await main(
      ['train', '--print-config', '--epochs', '3', '--set', 'name=demo'],
      out.stream,
      err.stream,
    );
    expect(code).toBe(EXIT.ok);
    expect(out.text()).toMatch(/^name: demo$/m);
    expect(out.text()).toMatch(/^ {2}epochs: 3$/m);
    // A flag's value is taken as given, not read as YAML: a name of 007 stays a string.
    const named = sink();
    expect(await main(['train', '--print-config', '--name', '007'], named.stream, err.stream)).toBe(
      EXIT.ok,
    );
    expect(named.text()).toMatch(/^name: "007"$/m);
  });

  it('the committed JSON Schema is generated from the zod definition (streams train --print-schema)', async () => {
    const committed = JSON.parse(
      await readFile(join(root, 'apps/trainer/run-config.schema.json'), 'utf8'),
    );
    expect(
      committed,
      'regenerate: pnpm streams train --print-schema > apps/trainer/run-config.schema.json',
    ).toEqual(runConfigJsonSchema());
    expect(JSON.stringify(committed)).toMatch(/"additionalProperties":false/);
  });

  it('examples/split-mnist.yaml is the embedded default job', async () => {
    const { $schema, ...fromFile } = await loadConfig({
      file: join(root, 'examples/split-mnist.yaml'),
    });
    expect($schema).toBe('../apps/trainer/run-config.schema.json');
    expect(fromFile).toEqual(await loadConfig({ fallback: DEFAULT_JOB }));
  });
});

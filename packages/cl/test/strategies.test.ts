import { testStrategy } from './strategySuite.js';

// The shares are what each strategy keeps of experience 0 on its toy (naive keeps ~0.66 on
// `permuted` and ~0.04 on `split`), with a margin for other backends' rounding.
testStrategy({
  config: { name: 'ewc', lambda: 1000 },
  scenario: 'permuted',
  keepsAtLeast: 0.85,
  composesWithReplay: true,
});
testStrategy({
  config: { name: 'ewc', mode: 'online', lambda: 1000, gamma: 0.9 },
  scenario: 'permuted',
  keepsAtLeast: 0.85,
  composesWithReplay: true,
});
testStrategy({
  config: { name: 'si', c: 1 },
  scenario: 'permuted',
  keepsAtLeast: 0.85,
  composesWithReplay: true,
});
testStrategy({
  config: { name: 'lwf' },
  scenario: 'permuted',
  keepsAtLeast: 0.9,
  composesWithReplay: true,
});
testStrategy({
  config: { name: 'agem' },
  scenario: 'permuted',
  keepsAtLeast: 0.85,
  composesWithReplay: true,
});
testStrategy({
  config: { name: 'agem', layerwise: true },
  scenario: 'permuted',
  keepsAtLeast: 0.85,
  composesWithReplay: true,
  variant: true,
});
testStrategy({
  config: { name: 'gem' },
  scenario: 'permuted',
  keepsAtLeast: 0.9,
  composesWithReplay: true,
});
testStrategy({
  config: { name: 'replay' },
  scenario: 'split',
  keepsAtLeast: 0.55,
  composesWithReplay: true,
});
testStrategy({
  config: { name: 'replay', policy: 'classBalanced', memorySize: 100 },
  scenario: 'split',
  keepsAtLeast: 0.5,
  composesWithReplay: true,
  variant: true,
});
testStrategy({
  config: { name: 'gdumb', memorySize: 200 },
  scenario: 'split',
  keepsAtLeast: 0.55,
  composesWithReplay: false,
});
testStrategy({
  config: { name: 'joint' },
  scenario: 'split',
  keepsAtLeast: 0.6,
  composesWithReplay: false,
});

// The public API of this package is listed here as it lands (see README.md for its issue).
export {
  BACKEND_NAMES,
  type BackendInfo,
  type BackendName,
  backendInfo,
  defaultNativeThreads,
  type SelectBackendOptions,
  selectBackend,
} from './backend.js';
export { NATIVE_PACKAGES, type NativePackage, nativePackageDir } from './backendPackages.js';
export {
  DEFAULT_TF_VERSION,
  findCudaDriver,
  SETUP_STAMP,
  type SetupTfOptions,
  type SetupTfResult,
  setupTf,
} from './backendSetup.js';
export {
  registerTrainingGradients,
  registerWasmTrainingKernels,
} from './kernels/registerKernels.js';

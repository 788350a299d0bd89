import {
  type GradConfig,
  getGradient,
  getKernel,
  type KernelConfig,
  registerGradient,
  registerKernel,
  unregisterKernel,
} from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterConfig } from './conv2DBackpropFilter.js';
import { conv3DBackpropFilterV2Config } from './conv3DBackpropFilterV2.js';
import { conv3DBackpropInputV2Config } from './conv3DBackpropInputV2.js';
import { conv3DBackpropInputV2GradConfig } from './conv3DBackpropInputV2Grad.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwiseConv2dNativeBackpropFilter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwiseConv2dNativeBackpropInput.js';
import { unsortedSegmentSumConfig } from './unsortedSegmentSum.js';

/** Kernels that training needs and `@tensorflow/tfjs-backend-wasm` 4.22 lacks. */
export const WASM_MISSING_KERNELS: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  unsortedSegmentSumConfig,
];

/** Kernels `@tensorflow/tfjs-backend-wasm` 4.22 ships with wrong results: always replaced. */
export const WASM_REPLACED_KERNELS: readonly KernelConfig[] = [
  conv3DBackpropFilterV2Config,
  conv3DBackpropInputV2Config,
];

/** Gradients that tfjs-core 4.22 lacks on every backend. */
export const TRAINING_GRADIENTS: readonly GradConfig[] = [conv3DBackpropInputV2GradConfig];

let kernelsRegistered = false;

/**
 * Registers the WASM training kernels: the missing ones only where tfjs has none (a later tfjs
 * that ships its own keeps it), the wrong ones always. Call it after `@tensorflow/tfjs-backend-wasm`
 * is imported (its import registers its own kernels). Idempotent.
 */
export function registerWasmTrainingKernels(): void {
  if (kernelsRegistered) return;
  kernelsRegistered = true;
  for (const k of WASM_MISSING_KERNELS) {
    if (!getKernel(k.kernelName, k.backendName)) registerKernel(k);
  }
  for (const k of WASM_REPLACED_KERNELS) {
    if (getKernel(k.kernelName, k.backendName)) unregisterKernel(k.kernelName, k.backendName);
    registerKernel(k);
  }
}

/** Registers the gradients tfjs-core lacks, where it still has none. */
export function registerTrainingGradients(): void {
  for (const g of TRAINING_GRADIENTS) {
    if (!getGradient(g.kernelName)) registerGradient(g);
  }
}

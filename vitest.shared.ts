import { defaultServerConditions } from 'vite';

/** Resolve `@streams/*` imports to their TypeScript sources, so tests need no prior build. */
export const sourceConditions = {
  resolve: { conditions: ['@streams/source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['@streams/source', ...defaultServerConditions] } },
};

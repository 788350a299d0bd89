import { packageBuild } from '../../tsup.shared.js';

// tfjs-core's declarations use the global `Long` of @types/long (a dependency here); the bundler
// drops src/index.ts's reference, so the declarations get it back as a banner.
export default packageBuild({ dts: { banner: '/// <reference types="long" />' } });

// The layout rule of the README ("How it fits together") for dependency-cruiser, stated as the same
// table test/layout/imports.test.ts checks by hand. Not wired in yet: it needs the devDependency
// dependency-cruiser@18.7.2; then `npx depcruise src packages/sdk/src --config .dependency-cruiser.cjs`
// (an npm script, and CI) can replace the hand-written test, which should then be removed so the
// rule stays in one place.
/** What each layer may import besides itself; composition (roles/, app.ts, main.ts) may import any of src/. */
const LAYERS = {
  wire: [],
  domain: ['wire'],
  ports: ['wire', 'domain'],
  config: ['domain'],
  metrics: ['domain'],
  codec: ['wire', 'domain', 'ports'],
  auth: ['wire', 'domain', 'ports', 'config'],
  stage: ['domain', 'ports', 'metrics'],
  http: ['wire', 'domain', 'ports', 'config', 'metrics', 'stage'],
  'adapters/[^/]+': ['wire', 'domain', 'ports', 'config', 'codec', 'metrics'],
  crowd: ['wire', 'domain'],
};
const SHARED = ['wire', 'domain', 'ports', 'codec', 'config', 'metrics', 'stage', 'auth'];
for (const stage of ['ingest', 'aggregate', 'publish', 'fanout', 'archive']) LAYERS[stage] = SHARED;

const layerRules = Object.entries(LAYERS).map(([layer, may]) => ({
  name: `layer-${layer.replace(/[^a-z]/g, '')}`,
  comment: `src/${layer} may import only ${may.length ? may.join(', ') : 'nothing else of the repository'}`,
  severity: 'error',
  // $1 is the layer's own folder (an adapter kind), which it may always import.
  from: { path: `^src/(${layer})/` },
  to: { path: '^(src|packages)/', pathNot: [`^src/$1/`, ...may.map((m) => `^src/${m}/`)] },
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'no import circles', severity: 'error', from: {}, to: { circular: true } },
    ...layerRules,
    {
      name: 'sdk-is-a-client',
      comment: 'the SDK imports nothing of the repository but the wire contract',
      severity: 'error',
      from: { path: '^packages/sdk/src/' },
      to: { path: '^src/', pathNot: '^src/wire/' },
    },
    {
      name: 'sdk-by-name-only',
      comment: 'no server module imports the SDK; crowd uses it by its package name',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/crowd/' },
      to: { path: '(^packages/sdk/|@emostream/sdk)' },
    },
    {
      name: 'crowd-no-deep-sdk-import',
      severity: 'error',
      from: { path: '^src/crowd/' },
      to: { path: '^packages/sdk/src/', pathNot: '^packages/sdk/src/index\\.ts$' },
      comment: 'crowd takes the SDK through its entry (the package name, resolved by tsconfig paths)',
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/web/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types'] },
  },
};

// SPDX-License-Identifier: MIT
// Fails with what to do when the package has not been installed and built.
//
// `npm test` and `npm run conformance` run the compiled tests in dist/,
// which need node_modules/ (the protobuf runtime) and `npm run build`.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const need = [
  ["node_modules/@bufbuild/protobuf/package.json", "node_modules/ is missing"],
  ["dist/index.js", "dist/ is missing"],
  ["dist/test/conformance.js", "dist/test/ is missing"],
];
for (const [file, what] of need) {
  if (!existsSync(join(pkg, file))) {
    console.error(`clients/node: ${what} (no ${file}): ` +
      `run \`npm ci && npm run build\` in ${pkg} first`);
    process.exit(1);
  }
}

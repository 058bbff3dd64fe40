// SPDX-License-Identifier: MIT
// Generates the TypeScript messages of proto/cachebroker/v1 into src/gen.
//
// Debian's protoc parses the .proto files and runs protoc-gen-es as its
// plugin, so the contract has one parser in every language of the tree.
// The output is rebuilt on every build and never committed.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const protoRoot = resolve(pkg, "../../proto");
const protoDir = join(protoRoot, "cachebroker/v1");
const out = join(pkg, "src/gen");
const plugin = join(pkg, "node_modules/.bin/protoc-gen-es");
const protoc = process.env.PROTOC ?? "protoc";

const protos = readdirSync(protoDir)
  .filter((f) => f.endsWith(".proto"))
  .sort()
  .map((f) => join(protoDir, f));
if (protos.length === 0) {
  console.error(`generate: no .proto files in ${protoDir}`);
  process.exit(1);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// import_extension=js: the package is ESM under NodeNext resolution,
// where relative imports must name the file that will exist in dist/.
const args = [
  `--plugin=protoc-gen-es=${plugin}`,
  `--es_out=${out}`,
  "--es_opt=target=ts,import_extension=js",
  `-I${protoRoot}`,
  ...protos,
];
const r = spawnSync(protoc, args, { stdio: "inherit" });
if (r.error) {
  console.error(`generate: cannot run ${protoc}: ${r.error.message}` +
    " (Debian: apt-get install protobuf-compiler)");
  process.exit(1);
}
process.exit(r.status ?? 1);

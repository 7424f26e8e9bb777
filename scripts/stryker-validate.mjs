// node stryker-validate.mjs NPM_DIR REPORT.json
// Validates REPORT.json against mutation-testing-report-schema's JSON
// schema with ajv (both installed under NPM_DIR by validate-stryker.sh).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [npmDir, reportPath] = process.argv.slice(2);
if (!npmDir || !reportPath) {
  console.error('usage: node stryker-validate.mjs NPM_DIR REPORT.json');
  process.exit(2);
}
const require = createRequire(path.resolve(npmDir, 'package.json'));
const ajvModule = require('ajv');
const Ajv = ajvModule.default ?? ajvModule;
const formatsModule = require('ajv-formats');
const addFormats = formatsModule.default ?? formatsModule;

// The schema file the package ships (its "exports" names it).
const schemaPath = require.resolve(
  'mutation-testing-report-schema/mutation-testing-report-schema.json');
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
const schemaVersion = JSON.parse(readFileSync(path.resolve(npmDir,
  'node_modules', 'mutation-testing-report-schema', 'package.json'), 'utf8')).version;

let report;
try {
  report = JSON.parse(readFileSync(reportPath, 'utf8'));
} catch (e) {
  console.error(`${reportPath}: not JSON: ${e.message}`);
  process.exit(1);
}

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);
if (!validate(report)) {
  console.error(`${reportPath}: invalid against mutation-testing-report-schema ${schemaVersion}:`);
  for (const e of validate.errors) {
    console.error(`  ${e.instancePath || '/'} ${e.message}` +
      (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''));
  }
  process.exit(1);
}

// The schema cannot say that killedBy and coveredBy name real tests.
const testIds = new Set();
for (const file of Object.values(report.testFiles ?? {}))
  for (const t of file.tests) testIds.add(t.id);
const unknown = [];
const mutantIds = new Set();
let mutants = 0;
for (const [name, file] of Object.entries(report.files)) {
  for (const m of file.mutants) {
    mutants++;
    if (mutantIds.has(m.id)) unknown.push(`${name}: mutant id ${m.id} repeated`);
    mutantIds.add(m.id);
    for (const id of [...(m.killedBy ?? []), ...(m.coveredBy ?? [])])
      if (report.testFiles && !testIds.has(id))
        unknown.push(`${name}: mutant ${m.id} names unknown test ${id}`);
  }
}
if (unknown.length) {
  console.error(`${reportPath}: inconsistent report:`);
  for (const u of unknown.slice(0, 20)) console.error(`  ${u}`);
  process.exit(1);
}
console.log(`${reportPath}: valid (mutation-testing-report-schema ${schemaVersion}; ` +
  `${mutants} mutants, ${testIds.size} tests)`);

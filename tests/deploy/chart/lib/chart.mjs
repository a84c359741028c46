// Renders a Helm chart with helm-render (tests/deploy/helm-render, a stand-in for `helm template`
// on machines without helm) and parses the result. Like helm, the merged values are validated
// against the chart's values.schema.json before anything is rendered.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parseAllDocuments } from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const rendererSource = path.resolve(here, '../../helm-render');

const sources = new WeakMap();

/** The template a rendered object came from ("<chart>/templates/<file>"), or undefined. */
export function sourceOf(object) {
  return sources.get(object);
}

let builtRenderer;

/**
 * HELM_RENDER_BIN when set (ctest sets it to the CMake-built binary); otherwise the Go program is
 * built once per process into a temp dir, offline, from Debian's Go packages, so a plain
 * `node --test` works without CMake.
 */
export function rendererBinary() {
  if (process.env.HELM_RENDER_BIN) return process.env.HELM_RENDER_BIN;
  if (builtRenderer) return builtRenderer;
  const dir = mkdtempSync(path.join(tmpdir(), 'helm-render-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const binary = path.join(dir, 'helm-render');
  try {
    execFileSync('go', ['build', '-o', binary, '.'], {
      cwd: rendererSource,
      env: {
        ...process.env,
        GO111MODULE: 'off',
        GOPROXY: 'off',
        GOFLAGS: '',
        GOPATH: `${path.join(dir, 'gopath')}:/usr/share/gocode`,
        GOTOOLCHAIN: 'local',
        // Shared between runs: compiling sprig and its dependencies takes seconds on 2 cores.
        GOCACHE: process.env.GOCACHE ?? path.join(tmpdir(), 'iot-helm-render-gocache'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    throw new Error(
      `cannot build helm-render (run ci/install-deps.sh for golang-go and the sprig/yaml packages): ${err.stderr ?? err.message}`,
    );
  }
  builtRenderer = binary;
  return binary;
}

function runRenderer(args) {
  try {
    return execFileSync(rendererBinary(), args, {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    if (err.status === undefined || err.status === null) throw err;
    const error = new Error(`helm-render failed (exit ${err.status}): ${String(err.stderr).trim()}`);
    error.stderr = String(err.stderr);
    error.exitCode = err.status;
    throw error;
  }
}

function rendererArgs(chartDir, { valuesFiles, set, name, namespace, apiVersions }) {
  const args = ['--name', name, '--namespace', namespace];
  for (const file of valuesFiles) args.push('-f', file);
  for (const [key, value] of Object.entries(set)) {
    // Commas in a value would split it into several assignments; helm needs them escaped.
    args.push('--set', `${key}=${String(value).replace(/\\/g, '\\\\').replace(/,/g, '\\,')}`);
  }
  for (const api of apiVersions) args.push('--api-versions', api);
  args.push(chartDir);
  return args;
}

/** Validates values against the chart's values.schema.json; throws with every ajv error. */
export function validateValues(chartDir, values) {
  const schemaFile = path.join(chartDir, 'values.schema.json');
  if (!existsSync(schemaFile)) return;
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
  if (!validate(values)) {
    const lines = validate.errors.map(
      (e) => `  ${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
    );
    const error = new Error(`values do not match ${schemaFile}:\n${lines.join('\n')}`);
    error.schemaErrors = validate.errors;
    throw error;
  }
}

/** Splits helm-render output into manifests and the NOTES.txt text printed after "NOTES:". */
function splitNotes(output) {
  const match = /^NOTES:\n/m.exec(output);
  if (!match) return { yamlText: output, notes: '' };
  return { yamlText: output.slice(0, match.index), notes: output.slice(match.index + match[0].length) };
}

/**
 * Parses `---\n# Source: X\n<doc>` output strictly (duplicate keys, bad YAML: errors naming the
 * template). Returns the objects and their sources in the same order.
 */
export function parseManifests(yamlText) {
  const objects = [];
  const sourceList = [];
  const chunks = yamlText.split(/^---\n(?=# Source: )/m).filter((c) => c.trim() !== '');
  for (const chunk of chunks) {
    const source = /^# Source: (.*)$/m.exec(chunk)?.[1];
    for (const doc of parseAllDocuments(chunk, { uniqueKeys: true, prettyErrors: true })) {
      if (doc.errors.length) {
        throw new Error(`YAML error in ${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
      }
      const object = doc.toJS({ maxAliasCount: 100 });
      // A document of only comments is legal for helm and kubectl, and creates nothing.
      if (object === null || object === undefined) continue;
      if (typeof object !== 'object' || Array.isArray(object)) {
        throw new Error(`${source}: a manifest must be a mapping, got ${JSON.stringify(object)}`);
      }
      sources.set(object, source);
      objects.push(object);
      sourceList.push(source);
    }
  }
  return { objects, sources: sourceList };
}

/**
 * Renders chartDir like `helm template --name NAME --namespace NS [-f F]... [--set K=V]...`.
 * @returns {{objects: object[], sources: string[], notes: string, values: object, yamlText: string}}
 *   objects: the parsed manifests (sourceOf(object) gives the template); notes: NOTES.txt
 *   rendered; values: the merged values; yamlText: the manifests as helm-render printed them.
 */
export function renderChart(
  chartDir,
  { valuesFiles = [], set = {}, name = 'iot', namespace = 'iot', apiVersions = [] } = {},
) {
  const args = rendererArgs(chartDir, { valuesFiles, set, name, namespace, apiVersions });
  const values = JSON.parse(runRenderer(['--print-values', ...args]));
  validateValues(chartDir, values);
  const { yamlText, notes } = splitNotes(runRenderer(['--notes', ...args]));
  const { objects, sources: sourceList } = parseManifests(yamlText);
  return { objects, sources: sourceList, notes, values, yamlText };
}

/**
 * Writes values to a JSON file (JSON is YAML) for renderChart's valuesFiles. Without dir, the
 * file goes to a temp dir removed when the process exits.
 */
export function writeValuesFile(values, dir) {
  if (!dir) {
    dir = mkdtempSync(path.join(tmpdir(), 'chart-values-'));
    const created = dir;
    process.on('exit', () => rmSync(created, { recursive: true, force: true }));
  }
  const file = path.join(dir, 'values.json');
  writeFileSync(file, JSON.stringify(values, null, 2));
  return file;
}

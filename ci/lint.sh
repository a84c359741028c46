#!/usr/bin/env bash
# Static checks, as CI runs them. Each argument selects one check; without arguments it runs
# format, shell and chart (the fast ones, the `lint` job). clang-tidy is the separate
# `clang-tidy` job: it needs a configured build and takes minutes per file on 2 cores.
#
#   bash ci/lint.sh [format] [shell] [chart] [kubeconform] [tidy]
#
#   format  clang-format --dry-run -Werror on every tracked *.cpp / *.hpp (Debian's clang-format)
#   shell   shellcheck on every *.sh in the repository
#   chart   helm lint --strict and helm template into CHART_RENDER_DIR (build/chart), for the
#           default values and every examples/*.yaml. Without helm (Debian has none) it says so
#           and passes: `ctest -L deploy` in the build-test job renders and validates the chart
#           with the offline renderer instead.
#   kubeconform  kubeconform -strict on what `chart` rendered ($KUBECONFORM, default from PATH)
#   tidy    clang-tidy (.clang-tidy) over the release compile database. TIDY_BASE=<git ref>
#           limits it to the *.cpp files changed since that ref (merge requests), unless a
#           header, .clang-tidy or a CMake file changed too: then every file, because a changed
#           header breaks files that did not change.
#
# LINT_INSTALL=true installs the Debian packages a selected check lacks (CI jobs; needs root).
set -euo pipefail
cd "$(dirname "$0")/.."

checks=("$@")
((${#checks[@]})) || checks=(format shell chart)
failed=()

note() { echo "lint: $*" >&2; }

# Each tool's Debian package has the tool's name.
need() {
  local missing=() tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  ((${#missing[@]})) || return 0
  if [[ ${LINT_INSTALL:-false} == true ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    note "missing: ${missing[*]} (apt-get install them, or set LINT_INSTALL=true)"
    return 1
  fi
}

# safe.directory: CI containers run as root on a checkout another user owns; this one command
# trusts this one repository, without touching the global git configuration.
git_here() { git -c safe.directory="$PWD" "$@"; }

# Tracked files plus new, not ignored ones: a script added in this change is linted before commit.
repo_files() { git_here ls-files -z --cached --others --exclude-standard -- "$@"; }

lint_format() {
  need git clang-format || return 1
  local files=()
  mapfile -d '' -t files < <(repo_files '*.cpp' '*.hpp')
  ((${#files[@]})) || { note "format: no C++ files"; return 1; }
  note "format: clang-format $(clang-format --version | grep -oE '[0-9]+\.[0-9.]+' | head -n1) on ${#files[@]} files"
  # -Werror --dry-run: report every unformatted line, change nothing.
  printf '%s\0' "${files[@]}" | xargs -0 -n 50 clang-format --dry-run -Werror --style=file
}

lint_shell() {
  need git shellcheck || return 1
  local files=()
  mapfile -d '' -t files < <(repo_files '*.sh')
  ((${#files[@]})) || { note "shell: no shell scripts"; return 1; }
  note "shell: shellcheck on ${#files[@]} scripts"
  # -x: follow `source`d files; each script's shebang picks bash or POSIX sh rules.
  shellcheck -x "${files[@]}"
}

lint_chart() {
  local chart=helm/iot-telemetry out=${CHART_RENDER_DIR:-build/chart}
  if ! command -v helm >/dev/null 2>&1; then
    note "chart: helm is not installed; skipped here (ctest -L deploy validates the chart)"
    return 0
  fi
  rm -rf "$out" && mkdir -p "$out" || return 1
  # The default values and every documented example: each must lint and render.
  local sets=(default) example
  for example in "$chart"/examples/*.yaml; do
    [[ -f $example ]] && sets+=("$example")
  done
  local set args name
  for set in "${sets[@]}"; do
    args=()
    name=default
    if [[ $set != default ]]; then
      args=(--values "$set")
      name=$(basename "$set" .yaml)
    fi
    note "chart: helm lint --strict, helm template ($name)"
    helm lint --strict "$chart" "${args[@]}" || return 1
    helm template lint-release "$chart" --namespace lint "${args[@]}" >"$out/$name.yaml" || return 1
  done
}

lint_kubeconform() {
  local out=${CHART_RENDER_DIR:-build/chart} kubeconform=${KUBECONFORM:-kubeconform}
  command -v "$kubeconform" >/dev/null 2>&1 || { note "kubeconform: not installed"; return 1; }
  compgen -G "$out/*.yaml" >/dev/null || { note "kubeconform: nothing rendered in $out (run the chart check first)"; return 1; }
  note "kubeconform: $out/*.yaml against Kubernetes ${KUBERNETES_VERSION:-1.30.0}"
  # -strict: unknown fields fail. The CRD catalog holds the MetalLB and Prometheus Operator schemas.
  "$kubeconform" -strict -summary -kubernetes-version "${KUBERNETES_VERSION:-1.30.0}" \
    -schema-location default \
    -schema-location 'https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json' \
    "$out"/*.yaml
}

lint_tidy() {
  if [[ ${LINT_INSTALL:-false} == true ]]; then
    bash ci/install-deps.sh || return 1
  fi
  need git clang-tidy cmake || return 1
  local database=build/release/compile_commands.json
  # Configuring is enough: every header the sources include exists before the build.
  [[ -f $database ]] || cmake --preset release >/dev/null || return 1
  local files=() changed=()
  if [[ -n ${TIDY_BASE:-} ]]; then
    local base
    base=$(git_here merge-base "$TIDY_BASE" HEAD) || { note "tidy: no merge base with $TIDY_BASE"; return 1; }
    mapfile -t changed < <(git_here diff --name-only --diff-filter=d "$base" HEAD --)
    local path everything=false
    for path in "${changed[@]}"; do
      case $path in
        *.hpp | .clang-tidy | CMakeLists.txt | */CMakeLists.txt | CMakePresets.json) everything=true ;;
        *.cpp) files+=("$path") ;;
      esac
    done
    if [[ $everything == true ]]; then
      files=()
      note "tidy: a header or the build configuration changed since $TIDY_BASE: every file"
    elif ((${#files[@]} == 0)); then
      note "tidy: no C++ file changed since $TIDY_BASE"
      return 0
    fi
  fi
  if ((${#files[@]} == 0)); then
    mapfile -t files < <(git_here ls-files -- '*.cpp')
  fi
  # Only files in the compile database: tests under optional CMake branches may be absent.
  local listed=() file
  for file in "${files[@]}"; do
    grep -qF "\"$PWD/$file\"" "$database" && listed+=("$file")
  done
  note "tidy: clang-tidy on ${#listed[@]} files"
  ((${#listed[@]})) || return 0
  # --warnings-as-errors='*': a finding fails the job; .clang-tidy keeps WarningsAsErrors empty so
  # editors only warn. The database holds GCC's flags (e.g. -Wno-restrict), unknown to clang.
  printf '%s\n' "${listed[@]}" |
    xargs -P "$(nproc)" -n 4 clang-tidy -p build/release --quiet --warnings-as-errors='*' \
      --extra-arg=-Wno-unknown-warning-option
}

for check in "${checks[@]}"; do
  case $check in
    format | shell | chart | kubeconform | tidy)
      if ! "lint_$check"; then
        failed+=("$check")
      fi
      ;;
    *)
      note "unknown check '$check' (format, shell, chart, kubeconform, tidy)"
      exit 2
      ;;
  esac
done

if ((${#failed[@]})); then
  note "FAILED: ${failed[*]}"
  exit 1
fi
note "OK: ${checks[*]}"

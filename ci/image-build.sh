#!/usr/bin/env bash
# Builds the iot-telemetry image for every platform in one buildx run, pushes it tagged by commit
# SHA (and by the branch or tag name), and records the digest the registry stored, so every later
# job (e2e, deploy) runs exactly these bytes by digest and never by a movable tag. Shared by
# ci/gitlab-ci.yml and ci/github/workflows/ci.yml.
#
# Environment:
#   IMAGE_REPOSITORY  required, e.g. ghcr.io/iot-telemetry/iot-telemetry
#   COMMIT_SHA        required, full commit SHA (tag and OCI revision label)
#   IMAGE_REF_NAME    optional branch or tag name; tagged too, after sanitising
#   IMAGE_VERSION     optional OCI version label (default: IMAGE_REF_NAME for tags, else the SHA)
#   IMAGE_SOURCE      optional OCI source label (repository URL)
#   PLATFORMS         default linux/amd64,linux/arm64
#   IMAGE_CACHE_REF   optional registry cache reference (type=registry, mode=max)
#   IMAGE_PUSH        default true; false builds every platform without pushing (no digest)
#   SETUP_QEMU        true: register QEMU binfmt handlers with tonistiigi/binfmt (GitLab dind;
#                     GitHub uses docker/setup-qemu-action instead)
#   REGISTRY_USER, REGISTRY_PASSWORD  optional: docker login to the repository's registry
#   IMAGE_ENV_FILE    default build/image.env: IMAGE_DIGEST= and IMAGE_REF= (GitLab dotenv)
#   GITHUB_OUTPUT     set by GitHub Actions: digest= and ref= are appended as step outputs
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "image-build: $*" >&2
  exit 1
}

: "${IMAGE_REPOSITORY:?set IMAGE_REPOSITORY, e.g. ghcr.io/iot-telemetry/iot-telemetry}"
: "${COMMIT_SHA:?set COMMIT_SHA to the full commit SHA}"
: "${PLATFORMS:=linux/amd64,linux/arm64}"
: "${IMAGE_PUSH:=true}"
: "${SETUP_QEMU:=false}"
: "${IMAGE_ENV_FILE:=build/image.env}"
: "${IMAGE_SOURCE:=https://github.com/iot-telemetry/iot-telemetry}"

[[ $COMMIT_SHA =~ ^[0-9a-f]{40}$ ]] || die "COMMIT_SHA '$COMMIT_SHA' is not a full 40-digit commit SHA"
# A repository reference may not carry a tag or digest: this script adds them.
[[ $IMAGE_REPOSITORY =~ ^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?$ && ${IMAGE_REPOSITORY##*/} != *:* ]] ||
  die "IMAGE_REPOSITORY '$IMAGE_REPOSITORY' must be a lower-case repository without tag or digest"

# Docker tags: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. Branches like feature/x become feature-x.
sanitise_tag() {
  local tag
  tag=$(printf '%s' "$1" | tr -c 'A-Za-z0-9_.-' '-' | sed 's/^[.-]*//')
  printf '%s' "${tag:0:128}"
}

tags=("$IMAGE_REPOSITORY:$COMMIT_SHA")
ref_tag=""
if [[ -n ${IMAGE_REF_NAME:-} ]]; then
  ref_tag=$(sanitise_tag "$IMAGE_REF_NAME")
  [[ -n $ref_tag && $ref_tag != "$COMMIT_SHA" ]] && tags+=("$IMAGE_REPOSITORY:$ref_tag")
fi
: "${IMAGE_VERSION:=${ref_tag:-$COMMIT_SHA}}"

if [[ -n ${REGISTRY_PASSWORD:-} ]]; then
  registry=${IMAGE_REPOSITORY%%/*}
  # --password-stdin: the password never appears in a process list.
  printf '%s' "$REGISTRY_PASSWORD" |
    docker login --username "${REGISTRY_USER:?set REGISTRY_USER with REGISTRY_PASSWORD}" --password-stdin "$registry"
fi

if [[ $SETUP_QEMU == true ]]; then
  # Pinned: binfmt handlers run every foreign-architecture build step.
  docker run --privileged --rm tonistiigi/binfmt:qemu-v9.2.2 --install all
fi

# The default "docker" driver cannot build a multi-platform image list: use a
# docker-container builder unless the job already selected one (docker/setup-buildx-action).
if [[ $(docker buildx inspect 2>/dev/null | sed -n 's/^Driver: *//p' | head -n1) != docker-container ]]; then
  docker buildx create --name iot-telemetry-builder --driver docker-container --use >/dev/null 2>&1 ||
    docker buildx use iot-telemetry-builder
fi
docker buildx inspect --bootstrap >/dev/null

mkdir -p "$(dirname "$IMAGE_ENV_FILE")"
metadata=$(mktemp)
trap 'rm -f "$metadata"' EXIT

args=(
  --file ci/docker/Dockerfile
  --platform "$PLATFORMS"
  --build-arg "VERSION=$IMAGE_VERSION"
  --build-arg "REVISION=$COMMIT_SHA"
  --build-arg "SOURCE=$IMAGE_SOURCE"
  --metadata-file "$metadata"
  --provenance=mode=max
  --sbom=true
)
for tag in "${tags[@]}"; do args+=(--tag "$tag"); done
if [[ -n ${IMAGE_CACHE_REF:-} ]]; then
  args+=(--cache-from "type=registry,ref=$IMAGE_CACHE_REF")
  [[ $IMAGE_PUSH == true ]] && args+=(--cache-to "type=registry,ref=$IMAGE_CACHE_REF,mode=max")
fi
if [[ $IMAGE_PUSH == true ]]; then
  args+=(--push)
fi

echo "image-build: ${PLATFORMS} -> ${tags[*]}"
docker buildx build "${args[@]}" .

if [[ $IMAGE_PUSH != true ]]; then
  echo "image-build: built without pushing (IMAGE_PUSH=$IMAGE_PUSH); no digest recorded"
  exit 0
fi

# The digest of the pushed manifest list, as buildx reports it...
digest=$(grep -oE '"containerimage\.digest" *: *"sha256:[0-9a-f]{64}"' "$metadata" |
  grep -oE 'sha256:[0-9a-f]{64}' | head -n1 || true)
# ...and as the registry serves it for the commit tag: they must agree, or another push raced us.
registry_digest=$(docker buildx imagetools inspect "$IMAGE_REPOSITORY:$COMMIT_SHA" \
  --format '{{printf "%s" .Manifest.Digest}}')
[[ $registry_digest =~ ^sha256:[0-9a-f]{64}$ ]] ||
  die "the registry returned no digest for $IMAGE_REPOSITORY:$COMMIT_SHA ('$registry_digest')"
if [[ -z $digest ]]; then
  digest=$registry_digest
elif [[ $digest != "$registry_digest" ]]; then
  die "buildx pushed $digest but the registry serves $registry_digest for $IMAGE_REPOSITORY:$COMMIT_SHA"
fi

# Every requested platform must be in the pushed index (a silently skipped arm64 would only
# show on a Raspberry Pi node).
index=$(docker buildx imagetools inspect "$IMAGE_REPOSITORY@$digest")
IFS=',' read -r -a wanted <<<"$PLATFORMS"
for platform in "${wanted[@]}"; do
  grep -qE "Platform: +${platform}(/v[0-9]+)?\$" <<<"$index" || die "platform $platform missing from $IMAGE_REPOSITORY@$digest"
done

ref="$IMAGE_REPOSITORY@$digest"
printf 'IMAGE_DIGEST=%s\nIMAGE_REF=%s\n' "$digest" "$ref" >"$IMAGE_ENV_FILE"
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  printf 'digest=%s\nref=%s\n' "$digest" "$ref" >>"$GITHUB_OUTPUT"
fi
echo "image-build: pushed $ref"

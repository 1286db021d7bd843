#!/usr/bin/env bash
# Build the KFP component image (mlsec_gates.components.IMAGE) from ./Containerfile with
# buildah, then run one gate component's command inside it (scripts/image_smoke.py).
#
#   bash scripts/build-image.sh            # build (and smoke-test) the image
#   MLSEC_IMAGE_BASE=docker.io/library/python:3.11-slim-bookworm bash scripts/build-image.sh
#
# Wheels: every dependency is first turned into a wheel on this machine (pip wheel, with the
# tested constraints), and the image build installs only those (--no-index): offline,
# reproducible, the same versions the test suite ran. Base: MLSEC_IMAGE_BASE when set (the
# release build: python:3.11-slim-bookworm); otherwise a Debian bookworm root file system
# made here with debootstrap from Debian's packages (python3 3.11, python3-venv,
# ca-certificates), since base images cannot be pulled on these machines. buildah runs as root
# with the vfs storage driver (no overlay or fuse needed). Needs: buildah, debootstrap (apt).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
WORK="$ROOT/.image-build"
STORE=(--storage-driver vfs)
EXTRAS="scan,validate,drift,model-eval,sbom,sign,s3,postgres,kfp"
DEBIAN_BASE="localhost/mlsec-gates-base:bookworm"
TAG="$("$PY" -c 'from mlsec_gates.components._image import IMAGE; print(IMAGE)')"
VERSION="${TAG##*:}"
t0=$SECONDS
stamp() { echo "==> [$((SECONDS - t0)) s] $*" >&2; }

for tool in buildah debootstrap; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-image: $tool is missing (apt-get install -y buildah debootstrap)" >&2
    exit 2
  fi
done

stamp "wheels for mlsec-gates[$EXTRAS]==$VERSION (constraints.txt)"
rm -rf "$WORK/wheels" && mkdir -p "$WORK/wheels"
"$PY" -m pip wheel -q --no-deps -w "$WORK/wheels" "$ROOT"
"$PY" -m pip wheel -q -w "$WORK/wheels" -c constraints.txt --find-links "$WORK/wheels" \
  "mlsec-gates[$EXTRAS]==$VERSION"

BASE="${MLSEC_IMAGE_BASE:-}"
if [[ -z "$BASE" ]]; then
  BASE="$DEBIAN_BASE"
  if ! buildah "${STORE[@]}" inspect --type image "$BASE" >/dev/null 2>&1; then
    stamp "base image $BASE: Debian bookworm root file system (debootstrap)"
    rm -rf "$WORK/rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$WORK/rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$WORK/debootstrap.log"
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
    ctr="$(buildah "${STORE[@]}" from scratch)"
    mnt="$(buildah "${STORE[@]}" mount "$ctr")"
    cp -a "$WORK/rootfs/." "$mnt/"
    buildah "${STORE[@]}" umount "$ctr" >/dev/null
    buildah "${STORE[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --env LANG=C.UTF-8 --cmd python3 "$ctr"
    buildah "${STORE[@]}" commit -q "$ctr" "$BASE" >/dev/null
    buildah "${STORE[@]}" rm "$ctr" >/dev/null
    rm -rf "$WORK/rootfs"
  fi
fi

stamp "image $TAG from $BASE"
buildah "${STORE[@]}" bud -q --layers=false --isolation chroot \
  --build-arg BASE="$BASE" --build-arg VERSION="$VERSION" --build-arg EXTRAS="$EXTRAS" \
  --build-arg PIP_ARGS="--no-index --find-links /tmp/build/wheels" \
  -f Containerfile -t "$TAG" "$ROOT" >/dev/null
buildah "${STORE[@]}" images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$TAG" >&2

stamp "one gate component's command inside $TAG (scripts/image_smoke.py)"
"$PY" scripts/image_smoke.py --image "$TAG" --work "$WORK/smoke"
stamp "done"

# Offline stand-in for the release image (the real recipe builds it from vllm.tt-metal.src.dev.Dockerfile): built on
# the cloud image like dev, but labelled release, so the release image has a digest of its own.
ARG CLOUD_DOCKERFILE_URL
FROM ${CLOUD_DOCKERFILE_URL}
LABEL org.tenstorrent.release.kind="release"

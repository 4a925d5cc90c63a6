# Offline stand-in for vllm.tt-metal.src.dev.Dockerfile (the release image has release.Dockerfile).
ARG CLOUD_DOCKERFILE_URL
FROM ${CLOUD_DOCKERFILE_URL}
LABEL org.tenstorrent.release.kind="dev"

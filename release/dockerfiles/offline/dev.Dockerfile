# Offline stand-in for vllm.tt-metal.src.dev.Dockerfile (also used for the release image, as in the real recipe).
ARG CLOUD_DOCKERFILE_URL
FROM ${CLOUD_DOCKERFILE_URL}
LABEL org.tenstorrent.release.kind="dev"

# Offline stand-in for vllm.tt-metal.src.cloud.Dockerfile: built on the tt-metal base image, records the commits.
ARG TT_METAL_DOCKERFILE_URL
FROM ${TT_METAL_DOCKERFILE_URL}
ARG TT_METAL_COMMIT_SHA_OR_TAG
ARG TT_VLLM_COMMIT_SHA_OR_TAG
ARG CONTAINER_APP_UID=1000
COPY --chown=${CONTAINER_APP_UID}:${CONTAINER_APP_UID} README.txt /home/container_app_user/README.txt
LABEL org.tenstorrent.release.kind="cloud" \
      org.tenstorrent.release.tt-metal-commit="${TT_METAL_COMMIT_SHA_OR_TAG}" \
      org.tenstorrent.release.vllm-commit="${TT_VLLM_COMMIT_SHA_OR_TAG}" \
      org.tenstorrent.release.container-app-uid="${CONTAINER_APP_UID}"

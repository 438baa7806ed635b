#!/usr/bin/env bash
# Makes .venv-ct2/: CTranslate2 on the CPU, for benches/ctranslate2.py (#32), with what that
# script reads and scores with: NumPy, Hugging Face tokenizers (the tokenizer.json our runs
# write), sacreBLEU. About 60 MB downloaded, once.
#
#   bash scripts/setup-ctranslate2.sh     # idempotent; prints the venv's python at the end
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-ct2
py=$venv/bin/python

[ -x "$py" ] || python3 -m venv "$venv"
if ! "$py" -c 'import ctranslate2, numpy, tokenizers, sacrebleu' 2>/dev/null; then
    echo "setup-ctranslate2: installing CTranslate2 4.8.5 into $venv" >&2
    "$py" -m pip install --quiet ctranslate2==4.8.5 numpy==2.4.6 tokenizers==0.23.3 sacrebleu==2.6.0
fi
"$py" -c '
import ctranslate2
print("ctranslate2", ctranslate2.__version__, "on the CPU; compute types:",
      ", ".join(sorted(ctranslate2.get_supported_compute_types("cpu"))))' >&2
echo "$PWD/$py"

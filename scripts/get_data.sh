#!/usr/bin/env bash
# Puts an English–French corpus into data/<name>/ (plain UTF-8 text, one sentence per line; line N
# of X.en translates line N of X.fr), either downloaded from its public home or copied from a local
# mirror with --from (machines without internet). Layout, identical to the shared mirror:
#   multi30k/{raw,tok}/{train,val,test_2016_flickr}.{en,fr}   (tok: lowercased, Moses-tokenized)
#   tatoeba/{train,valid,test}.{en,fr}
#   wmt14/{train,valid,test}.{en,fr}                           (large: ~40M training pairs)
# Every produced file is checked by sha256: multi30k and tatoeba against checksums pinned below
# (taken from the reference mirror); wmt14 has no pinned checksums. After installing, the checksums
# of what was installed are written to data/.<name>.sha256, so later runs (and wmt14) can tell an
# intact corpus from a damaged one.
# Idempotent: a corpus already present and intact is left alone (unless --force). A missing or
# damaged file makes the whole corpus be rebuilt. The corpus is built in a temporary directory next
# to the destination and moved into place at the end, so an interrupted run never leaves a
# half-written data/<name>/. Downloaded archives are kept in data/.downloads/<name>/ until the
# corpus is installed, so an interrupted download resumes.
set -euo pipefail

prog=get_data.sh
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
default_dest="$script_dir/../data"

# Public homes. The environment variables exist to point the script at another server (a proxy,
# a local copy, a test server); the defaults are the real sources.
# multi30k/dataset (GitHub, branch master): raw files are data/task1/raw/<split>.<lang>.gz; the
# tokenized, lowercased ones are data/task1/tok/<split>.lc.norm.tok.<lang> (not compressed).
# File names checked against the repository's listing.
MULTI30K_URL=${SPOTLIGHT_MULTI30K_URL:-https://raw.githubusercontent.com/multi30k/dataset/master/data/task1}
# manythings.org Anki export of Tatoeba: fra-eng.zip holds fra.txt, one pair a line,
# "English<TAB>French<TAB>attribution" (older releases have no attribution column). The site refuses
# some non-browser user agents, hence the User-Agent below.
TATOEBA_URL=${SPOTLIGHT_TATOEBA_URL:-https://www.manythings.org/anki/fra-eng.zip}
# statmt.org (WMT14 translation task; the same archives fairseq's prepare-wmt14en2fr.sh uses).
STATMT_URL=${SPOTLIGHT_STATMT_URL:-https://www.statmt.org}
USER_AGENT="Mozilla/5.0 (compatible; spotlight-get_data.sh)"

usage() {
  cat <<EOF
Usage: scripts/get_data.sh CORPUS [--from DIR] [--dest DIR] [--force]

Puts an English-French corpus into DEST/CORPUS/ (default DEST: the repository's data/ folder).
CORPUS is one of:
  multi30k  Multi30k task 1 image captions (github.com/multi30k/dataset), ~4 MB:
            raw/ and tok/ (lowercased, tokenized), each {train,val,test_2016_flickr}.{en,fr}
  tatoeba   Tatoeba sentence pairs (manythings.org/anki, fra-eng.zip), ~20 MB:
            {train,valid,test}.{en,fr}; split by English sentence, 2,000 in valid and in test
  wmt14     WMT14 en-fr (statmt.org), LARGE: ~6.5 GB to download, ~30 GB free disk while building,
            ~11 GB installed. train = europarl v7 + commoncrawl + UN + news-commentary v9 +
            giga-fren (~40M pairs, unfiltered); valid = newstest2013; test = newstest2014 (full)

Options:
  --from DIR  copy DIR/CORPUS/ from a local mirror laid out like the shared data folder
              (for machines without internet) instead of downloading
  --dest DIR  put the corpus in DIR/CORPUS/ instead of data/CORPUS/
  --force     rebuild even if the corpus is already present and intact
  -h, --help  show this help

Files are checked by sha256: multi30k and tatoeba against pinned checksums (a mismatch is an
error, except for a downloaded tatoeba, whose split depends on the upstream release: a warning);
wmt14 has no pinned checksums. A corpus already present and intact is left alone; a missing or
damaged file makes the whole corpus be rebuilt (files of data/CORPUS/ other than the corpus's own
are kept). Exit status: 0 ok, 1 failure (missing input, checksum mismatch, download failure),
2 usage error.

Examples:
  scripts/get_data.sh multi30k --from ../shared/data   # copy from the local mirror
  scripts/get_data.sh tatoeba --from /work/shared/data --dest /tmp/data
  scripts/get_data.sh multi30k                          # download from GitHub
  scripts/get_data.sh tatoeba --force                   # download again and replace
EOF
}

log() { echo "$prog: $*" >&2; }
die() { echo "$prog: error: $*" >&2; exit 1; }
prefix_lines() { local line; while IFS= read -r line; do echo "$1$line" >&2; done; }
usage_error() { echo "$prog: $*" >&2; echo "Try 'scripts/get_data.sh --help'." >&2; exit 2; }

# ---------------------------------------------------------------------------------------------
# Arguments
corpus="" from="" dest="" force=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --force) force=1 ;;
    --from|--dest)
      if [ "$#" -lt 2 ] || [ -z "$2" ]; then usage_error "option $1 needs a directory argument"; fi
      if [ "$1" = --from ]; then from=$2; else dest=$2; fi
      shift ;;
    --from=*) from=${1#--from=}; [ -n "$from" ] || usage_error "option --from needs a directory" ;;
    --dest=*) dest=${1#--dest=}; [ -n "$dest" ] || usage_error "option --dest needs a directory" ;;
    -*) usage_error "unknown option '$1'" ;;
    *)
      [ -z "$corpus" ] || usage_error "unexpected argument '$1' (corpus already given: '$corpus')"
      corpus=$1 ;;
  esac
  shift
done
[ -n "$corpus" ] || usage_error "no corpus given (one of: multi30k, tatoeba, wmt14)"
case "$corpus" in
  multi30k|tatoeba|wmt14) ;;
  *) usage_error "unknown corpus '$corpus' (one of: multi30k, tatoeba, wmt14)" ;;
esac

# ---------------------------------------------------------------------------------------------
# Corpus contents: the files, and the pinned sha256 of multi30k and tatoeba, computed from the
# reference mirror (multi30k: the multi30k/dataset files as published; tatoeba: the 2019-04-07
# release split as described in corpus_files' comment below).
corpus_files() {
  case "$1" in
    multi30k)
      local kind split lang
      for kind in raw tok; do
        for split in train val test_2016_flickr; do
          for lang in en fr; do echo "$kind/$split.$lang"; done
        done
      done ;;
    tatoeba|wmt14)
      local split lang
      for split in train valid test; do
        for lang in en fr; do echo "$split.$lang"; done
      done ;;
  esac
}

pinned_sums() {
  case "$1" in
    multi30k) cat <<'EOF'
460a15fbd157e34a7a9957ee388c1ca247fe47af3ef25fb50442af6c274e0fc6  raw/train.en
5925a3c18f1587b6b54b87743106e6e8ab93618edb6f65d19eac0621f853a10d  raw/train.fr
1f2a23d992769b5b3d209b0a10dd0b77c08cceb1f20dfb97ed0aafa49d107227  raw/val.en
5304e444d842e962b2dda4d816b70b22a1765b15401642b7ca37a67477e708dc  raw/val.fr
399a4382932c1aadd3ceb9bef1008d388a64c76d4ae4e9d4728c6f4301cac182  raw/test_2016_flickr.en
cb3160d69b002bb638e66cc7612fcd56cb0af82eadc9c142dedc438afb885ef6  raw/test_2016_flickr.fr
08925f8e0572bcd5a006702fc5fe20e2d77c6917d4eebd576fc20de6693c2119  tok/train.en
8fa41bb718412bcb7c5dfa58603842810a01543eae86a51279f9886b901266e1  tok/train.fr
46573ce391ae227f1c72f873392436a20ef18e0a6d518098cfbd70b77c8572ec  tok/val.en
b303e301aa21fe7822a846b2b3fb2d5a1121ec807cd5b1d006fb7b2b5507168a  tok/val.fr
5b7f32627cf99eced828311b955dae9800bb52bc8b91cf8b6526829e605b29d2  tok/test_2016_flickr.en
1463bd5960f9bfe098ec3cd752d3df0c49c84dc646fb518964a29232658cd836  tok/test_2016_flickr.fr
EOF
    ;;
    tatoeba) cat <<'EOF'
ed84525dbe982769a82f9e27f0751d81bce750a4055b17643594c37785c99708  train.en
9a13c90d061831d01b8ba428a32e540517ecce8cd91378a2f23471f491b99410  train.fr
ad91d9ee68f6364654c89b586fa80e2bb65d87c85f0e76220364eea49cab7763  valid.en
24918aa23226ce38ab9c0dcb2319c62ade4612a5e39a1d521a7ec13b454d5d26  valid.fr
d8ebdcdd06a534d4694700d28e75ed538ba5c2a13c8a4b56dc717c026ad4c9f3  test.en
d754934cb0361a2b20db25d4a3d2fb5f855cebb79d1c9ca14081b74707589d95  test.fr
EOF
    ;;
    wmt14) ;;  # no pinned checksums: the corpus is ~11 GB, assembled from several archives
  esac
}

if command -v sha256sum >/dev/null 2>&1; then
  sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256_of() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  die "neither sha256sum nor shasum is installed; cannot verify the files"
fi

# verify_sums DIR SUMS_FILE: checks every "sha256  relpath" line of SUMS_FILE against DIR/relpath.
# Prints one line per missing or mismatching file; returns 1 if there was any.
verify_sums() {
  local dir=$1 sums=$2 want rel got bad=0
  while read -r want rel; do
    [ -n "$rel" ] || continue
    if [ ! -f "$dir/$rel" ]; then
      echo "$rel: missing"; bad=1
    else
      got=$(sha256_of "$dir/$rel")
      if [ "$got" != "$want" ]; then echo "$rel: checksum mismatch (sha256 $got, expected $want)"; bad=1; fi
    fi
  done <"$sums"
  return "$bad"
}

# check_pairs DIR: line N of X.en must translate line N of X.fr, so both must have as many lines.
check_pairs() {
  local dir=$1 rel other ne nf
  while read -r rel; do
    case "$rel" in *.en) ;; *) continue ;; esac
    other=${rel%.en}.fr
    ne=$(wc -l <"$dir/$rel"); nf=$(wc -l <"$dir/$other")
    [ "$ne" -eq "$nf" ] || die "$dir/$rel has $ne lines but $dir/$other has $nf"
    [ "$ne" -gt 0 ] || die "$dir/$rel is empty"
  done < <(corpus_files "$corpus")
}

# ---------------------------------------------------------------------------------------------
# The mirror (--from) is checked first, so that a wrong path is reported even when the corpus is
# already installed.
src=""
if [ -n "$from" ]; then
  [ -d "$from" ] || die "--from directory not found: $from"
  src=$(cd "$from" && pwd)/$corpus
  [ -d "$src" ] || die "the mirror has no $corpus/ directory: $src not found (expected a mirror laid out like the shared data folder: DIR/$corpus/...)"
  while read -r rel; do
    [ -f "$src/$rel" ] || die "missing file in the mirror: $src/$rel"
  done < <(corpus_files "$corpus")
fi

# ---------------------------------------------------------------------------------------------
# Destination, and the idempotence check
dest=${dest:-$default_dest}
mkdir -p "$dest" || die "cannot create the destination directory $dest"
dest=$(cd "$dest" && pwd)
target="$dest/$corpus"
manifest="$dest/.$corpus.sha256"
work=""
cleanup() { if [ -n "$work" ] && [ -d "$work" ]; then rm -rf "$work"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
work=$(mktemp -d "$dest/.get_data.$corpus.XXXXXX")
pinned="$work/pinned.sha256"
pinned_sums "$corpus" >"$pinned"
nfiles=$(corpus_files "$corpus" | wc -l | tr -d ' ')

if [ -d "$target" ]; then
  if [ "$force" = 1 ]; then
    log "$target exists; --force given, rebuilding it"
  elif [ -s "$pinned" ] && verify_sums "$target" "$pinned" >/dev/null; then
    log "$corpus already present in $target: all $nfiles files match the pinned checksums; nothing to do (--force rebuilds)"
    exit 0
  elif [ -s "$manifest" ] && verify_sums "$target" "$manifest" >/dev/null; then
    if [ -s "$pinned" ]; then
      log "$corpus already present in $target: all $nfiles files match their install record $manifest (they differ from the pinned checksums: installed from a different upstream release); nothing to do (--force rebuilds)"
    else
      log "$corpus already present in $target: all $nfiles files match their install record $manifest ($corpus has no pinned checksums); nothing to do (--force rebuilds)"
    fi
    exit 0
  else
    if [ -s "$manifest" ]; then ref="$manifest" ref_name="its install record $manifest"
    else ref="$pinned" ref_name="the pinned checksums"; fi
    if [ -s "$ref" ]; then
      log "$target is incomplete or damaged (checked against $ref_name):"
      verify_sums "$target" "$ref" | prefix_lines "$prog:   $corpus/" || true
    else
      log "$target exists but has no install record $manifest (an interrupted or manual install)"
    fi
    log "rebuilding $corpus (the whole corpus is replaced; other files in $target are kept)"
  fi
fi

build="$work/$corpus"
mkdir -p "$build"

# ---------------------------------------------------------------------------------------------
# --from: copy the mirror
copy_from_mirror() {
  local rel
  log "copying $nfiles files from $src"
  while read -r rel; do
    mkdir -p "$(dirname "$build/$rel")"
    cp "$src/$rel" "$build/$rel"
  done < <(corpus_files "$corpus")
}

# ---------------------------------------------------------------------------------------------
# Downloads
if command -v curl >/dev/null 2>&1; then downloader=curl
elif command -v wget >/dev/null 2>&1; then downloader=wget
else downloader=""
fi
cache="$dest/.downloads/$corpus"
probed_hosts=" "

no_network_help() {
  echo "No internet here? Copy a local mirror instead: scripts/get_data.sh $corpus --from DIR" \
       "(DIR laid out like the shared data folder, e.g. --from ../shared/data)."
}

# probe URL: fails fast (about 10 s at most) with a clear message when the host is unreachable.
probe() {
  local url=$1 host rc=0
  host=$(echo "$url" | sed -E 's|^[a-z]+://([^/]+).*|\1|')
  case "$probed_hosts" in *" $host "*) return 0 ;; esac
  log "checking that $host is reachable"
  if [ "$downloader" = curl ]; then
    # Without -f any HTTP answer counts as reachable; a non-zero exit is DNS/connect/TLS/timeout.
    curl -s -o /dev/null -r 0-0 -A "$USER_AGENT" --connect-timeout 10 --max-time 20 "$url" || rc=$?
  else
    # wget: 4 = network failure, 5 = TLS failure; 8 (an HTTP error) still means reachable.
    wget -q --spider --tries=1 --timeout=10 -U "$USER_AGENT" "$url" || rc=$?
    case "$rc" in 4|5) ;; *) rc=0 ;; esac
  fi
  [ "$rc" -eq 0 ] || die "cannot reach $host ($downloader exit status $rc) while fetching $url. $(no_network_help)"
  probed_hosts="$probed_hosts$host "
}

# fetch URL FILE: downloads URL to $cache/FILE (kept there until the corpus is installed, so an
# interrupted download resumes from its .part file), with retries and timeouts.
fetch() {
  local url=$1 out="$cache/$2" rc=0
  if [ -s "$out" ]; then log "using $out, downloaded earlier"; return 0; fi
  [ -n "$downloader" ] || die "neither curl nor wget is installed; cannot download $url. $(no_network_help)"
  probe "$url"
  mkdir -p "$cache"
  log "downloading $url"
  if [ "$downloader" = curl ]; then
    # A stalled transfer (under 1 kB/s for 60 s) is aborted and retried; -C - resumes a .part file.
    curl -fsSL --retry 3 --retry-delay 5 --connect-timeout 15 --speed-limit 1024 --speed-time 60 \
         -A "$USER_AGENT" -C - -o "$out.part" "$url" || rc=$?
  else
    wget -q --tries=3 --waitretry=5 --timeout=60 -U "$USER_AGENT" -c -O "$out.part" "$url" || rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    [ -s "$out.part" ] || rm -f "$out.part"
    die "download failed ($downloader exit status $rc): $url. $(no_network_help)"
  fi
  mv "$out.part" "$out"
}

# A cached archive that turns out to be broken (e.g. an HTML error page) is deleted so that the
# next run downloads it again.
bad_archive() { rm -f "$1"; die "$2 (the downloaded $1 is broken and was deleted; run again to download it anew)"; }

download_multi30k() {
  local split lang
  for split in train val test_2016_flickr; do
    for lang in en fr; do
      mkdir -p "$build/raw" "$build/tok"
      fetch "$MULTI30K_URL/raw/$split.$lang.gz" "raw.$split.$lang.gz"
      gzip -dc "$cache/raw.$split.$lang.gz" >"$build/raw/$split.$lang" \
        || bad_archive "$cache/raw.$split.$lang.gz" "cannot decompress raw/$split.$lang.gz"
      fetch "$MULTI30K_URL/tok/$split.lc.norm.tok.$lang" "tok.$split.lc.norm.tok.$lang"
      cp "$cache/tok.$split.lc.norm.tok.$lang" "$build/tok/$split.$lang"
    done
  done
}

# Tatoeba split, deterministic and independent of the file's order: the distinct English sentences
# are ordered by a fixed hash of their bytes (ties: by the sentence itself); the first 2,000 go to
# valid, the next 2,000 to test, the rest to train, so no English sentence sits in two splits.
# valid and test keep one pair per English sentence (its first translation in fra.txt), train
# keeps every pair. Each split lists its English sentences in hash order. A different upstream
# release gives different files: hence only a warning when they differ from the pinned checksums.
download_tatoeba() {
  fetch "$TATOEBA_URL" fra-eng.zip
  command -v unzip >/dev/null 2>&1 || die "unzip is not installed; it is needed to extract fra-eng.zip"
  log "extracting fra.txt and splitting by English sentence (2,000 valid, 2,000 test, rest train)"
  unzip -p "$cache/fra-eng.zip" fra.txt >"$work/fra.txt" \
    || bad_archive "$cache/fra-eng.zip" "cannot extract fra.txt from fra-eng.zip"
  [ -s "$work/fra.txt" ] || bad_archive "$cache/fra-eng.zip" "fra.txt in fra-eng.zip is empty"
  # Stage 1: "hash<TAB>English<TAB>line number<TAB>French" (CR and surrounding blanks removed).
  # Stage 2: sort by hash, sentence, line number. Stage 3: number the distinct sentences and split.
  LC_ALL=C awk -F'\t' '
    BEGIN { for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i }
    function trim(s) { gsub(/\r/, "", s); sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    {
      en = trim($1); fr = trim($2)
      if (en == "" || fr == "") next
      h = 5381
      n = length(en)
      for (j = 1; j <= n; j++) h = (h * 33 + ord[substr(en, j, 1)]) % 2147483647
      print h "\t" en "\t" NR "\t" fr
    }' "$work/fra.txt" \
  | LC_ALL=C sort -t "$(printf '\t')" -k1,1n -k2,2 -k3,3n \
  | LC_ALL=C awk -F'\t' -v dir="$build" '
    {
      if ($2 != prev) { k++; prev = $2; first = 1 } else first = 0
      if (k <= 2000)      { if (first) { print $2 > (dir "/valid.en"); print $4 > (dir "/valid.fr") } }
      else if (k <= 4000) { if (first) { print $2 > (dir "/test.en");  print $4 > (dir "/test.fr") } }
      else                { print $2 > (dir "/train.en"); print $4 > (dir "/train.fr") }
    }
    END { if (k <= 4000) { print "only " k " distinct English sentences" > "/dev/stderr"; exit 1 } }' \
    || die "fra.txt has too few sentence pairs to split"
  rm -f "$work/fra.txt"
}

# WMT14 en-fr. Archives and the files used from them (paths as published on statmt.org):
#   wmt13/training-parallel-europarl-v7.tgz  training/europarl-v7.fr-en.{en,fr}
#   wmt13/training-parallel-commoncrawl.tgz  commoncrawl.fr-en.{en,fr}
#   wmt13/training-parallel-un.tgz           un/undoc.2000.fr-en.{en,fr}
#   wmt14/training-parallel-nc-v9.tgz        training/news-commentary-v9.fr-en.{en,fr}
#   wmt10/training-giga-fren.tar             giga-fren.release2.fixed.{en,fr}.gz
#   wmt14/dev.tgz                            dev/newstest2013.{en,fr}
#   wmt14/test-full.tgz                      test-full/newstest2014-fren-{src.en,ref.fr}.sgm
# train.* is their plain concatenation (no filtering, no deduplication); the sgm test set is
# reduced to the text of its <seg> elements, as sacrebleu does.
wmt_train_part() {  # ARCHIVE_URL ARCHIVE_FILE EN_PATH FR_PATH (paths inside the archive)
  local url=$1 file=$2 en=$3 fr=$4 x="$work/x" ne nf
  fetch "$url" "$file"
  rm -rf "$x"; mkdir -p "$x"
  log "extracting $en and $fr from $file"
  tar -xf "$cache/$file" -C "$x" "$en" "$fr" || bad_archive "$cache/$file" "cannot extract $en, $fr from $file"
  case "$en" in
    *.gz)
      if ! { gzip -dc "$x/$en" >"$x/part.en" && gzip -dc "$x/$fr" >"$x/part.fr"; }; then
        bad_archive "$cache/$file" "cannot decompress $en, $fr"
      fi ;;
    *) mv "$x/$en" "$x/part.en"; mv "$x/$fr" "$x/part.fr" ;;
  esac
  ne=$(wc -l <"$x/part.en"); nf=$(wc -l <"$x/part.fr")
  [ "$ne" -eq "$nf" ] || die "$file: $en has $ne lines but $fr has $nf; not a parallel corpus"
  log "appending $ne pairs from $file to train"
  cat "$x/part.en" >>"$build/train.en"
  cat "$x/part.fr" >>"$build/train.fr"
  rm -rf "$x"
}

sgm_text() { sed -n 's|^.*<seg[^>]*>\(.*\)</seg>.*$|\1|p' "$1" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//'; }

download_wmt14() {
  local avail_kb
  avail_kb=$(df -Pk "$dest" | awk 'NR == 2 { print $4 }')
  log "wmt14 is large: ~6.5 GB of archives to download, ~30 GB of free disk needed while building"
  if [ -n "$avail_kb" ] && [ "$avail_kb" -lt $((30 * 1024 * 1024)) ]; then
    log "warning: only $((avail_kb / 1024 / 1024)) GB free in $dest; the build may run out of space"
  fi
  : >"$build/train.en"; : >"$build/train.fr"
  wmt_train_part "$STATMT_URL/wmt13/training-parallel-europarl-v7.tgz" europarl-v7.tgz \
    training/europarl-v7.fr-en.en training/europarl-v7.fr-en.fr
  wmt_train_part "$STATMT_URL/wmt13/training-parallel-commoncrawl.tgz" commoncrawl.tgz \
    commoncrawl.fr-en.en commoncrawl.fr-en.fr
  wmt_train_part "$STATMT_URL/wmt13/training-parallel-un.tgz" un.tgz \
    un/undoc.2000.fr-en.en un/undoc.2000.fr-en.fr
  wmt_train_part "$STATMT_URL/wmt14/training-parallel-nc-v9.tgz" nc-v9.tgz \
    training/news-commentary-v9.fr-en.en training/news-commentary-v9.fr-en.fr
  wmt_train_part "$STATMT_URL/wmt10/training-giga-fren.tar" giga-fren.tar \
    giga-fren.release2.fixed.en.gz giga-fren.release2.fixed.fr.gz
  local x="$work/x"
  fetch "$STATMT_URL/wmt14/dev.tgz" dev.tgz
  rm -rf "$x"; mkdir -p "$x"
  log "extracting newstest2013 (valid) from dev.tgz"
  tar -xzf "$cache/dev.tgz" -C "$x" dev/newstest2013.en dev/newstest2013.fr \
    || bad_archive "$cache/dev.tgz" "cannot extract dev/newstest2013.{en,fr} from dev.tgz"
  mv "$x/dev/newstest2013.en" "$build/valid.en"; mv "$x/dev/newstest2013.fr" "$build/valid.fr"
  fetch "$STATMT_URL/wmt14/test-full.tgz" test-full.tgz
  rm -rf "$x"; mkdir -p "$x"
  log "extracting newstest2014 (test) from test-full.tgz"
  tar -xzf "$cache/test-full.tgz" -C "$x" test-full/newstest2014-fren-src.en.sgm test-full/newstest2014-fren-ref.fr.sgm \
    || bad_archive "$cache/test-full.tgz" "cannot extract newstest2014-fren-{src.en,ref.fr}.sgm from test-full.tgz"
  sgm_text "$x/test-full/newstest2014-fren-src.en.sgm" >"$build/test.en"
  sgm_text "$x/test-full/newstest2014-fren-ref.fr.sgm" >"$build/test.fr"
  rm -rf "$x"
}

# ---------------------------------------------------------------------------------------------
# Build, verify, install
if [ -n "$from" ]; then
  copy_from_mirror
else
  log "downloading $corpus from its public home (use --from DIR to copy a local mirror instead)"
  "download_$corpus"
fi

check_pairs "$build"
if [ -s "$pinned" ]; then
  log "verifying the sha256 of the $nfiles files"
  if report=$(verify_sums "$build" "$pinned"); then
    log "all $nfiles files match the pinned checksums"
  elif [ "$corpus" = tatoeba ] && [ -z "$from" ]; then
    prefix_lines "$prog: warning:   $corpus/" <<<"$report"
    log "warning: the downloaded tatoeba differs from the pinned checksums (those of the mirror, built" \
        "from the 2019-04-07 release): manythings.org publishes only its latest export, so the pairs," \
        "and hence the split, differ from the mirror's. The corpus is installed; scores on its" \
        "valid/test are not comparable with scores on the mirror's."
  else
    prefix_lines "$prog: error:   $corpus/" <<<"$report"
    if [ -n "$from" ]; then die "the files copied from $from/$corpus differ from the pinned checksums (listed above); nothing installed"
    else die "the downloaded files differ from the pinned checksums (listed above; has the upstream changed?); nothing installed"; fi
  fi
else
  log "$corpus has no pinned checksums; recording the sha256 of what is installed"
fi

log "recording checksums"
: >"$work/manifest"
while read -r rel; do
  echo "$(sha256_of "$build/$rel")  $rel" >>"$work/manifest"
done < <(corpus_files "$corpus")

all_files=$(corpus_files "$corpus")
if [ -e "$target" ]; then
  # Keep files of the old directory that are not part of the corpus (e.g. a tokenizer model).
  while IFS= read -r -d '' f; do
    rel=${f#"$target"/}
    if ! grep -qxF "$rel" <<<"$all_files"; then
      log "keeping $target/$rel (not part of the corpus)"
      mkdir -p "$(dirname "$build/$rel")"
      mv "$f" "$build/$rel"
    fi
  done < <(find "$target" \( -type f -o -type l \) -print0)
  mv "$target" "$work/old"
fi
log "moving the corpus into place: $target"
# Two renames within one file system: data/<name>/ is either the old corpus, absent for an
# instant, or the new one; never half-written.
mv "$build" "$target"
mv "$work/manifest" "$manifest"
if [ -z "$from" ] && [ -d "$cache" ]; then
  log "removing the downloaded archives in $cache"
  rm -rf "$cache"
  rmdir "$dest/.downloads" 2>/dev/null || true
fi
log "done: $corpus in $target ($nfiles files, sha256 recorded in $manifest)"

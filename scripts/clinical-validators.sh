#!/usr/bin/env bash
# clinical-validators.sh — HL7's reference checkers for wardgate's format tests: HAPI FHIR's
# instance validator (R4, vital-signs profiles, offline) and HAPI HL7 v2 (v2.6 structures).
# The jars come from Maven Central through test/fhir/validator/pom.xml (like kafka-local.sh);
# the two small mains there (Validate.java, Hl7Check.java) are compiled with javac against them.
# Nothing is fetched at test time once `ensure` has run (scripts/install-deps.sh runs it).
#
# Usage: scripts/clinical-validators.sh ensure      resolve jars (once) and compile (when the sources change)
#        scripts/clinical-validators.sh classpath   ensure, then print the java class path (last line)
#
# Environment: WARDGATE_VALIDATORS_DIR  cache folder (default ${XDG_CACHE_HOME:-~/.cache}/wardgate/clinical-validators)
#
# Measured (Debian 12, 2 cores, Java 17): first resolution with Maven ~10 s online (148 MB of jars),
# javac of both mains ~4 s; `classpath` with everything in place ~0.1 s.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
SRC="$REPO/test/fhir/validator"
POM="$SRC/pom.xml"
ROOT="${WARDGATE_VALIDATORS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/wardgate/clinical-validators}"

log() { echo "clinical-validators: $*" >&2; }
die() { echo "clinical-validators: error: $*" >&2; exit 1; }

pom_hash() { sha256sum "$POM" | cut -c1-16; }
src_hash() { cat "$POM" "$SRC"/*.java | sha256sum | cut -c1-16; }
LIB="$ROOT/lib-$(pom_hash)"
CLASSES="$ROOT/classes-$(src_hash)"

ensure_jars() {
  [[ -f "$LIB/.complete" ]] && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn (Apache Maven) not found and the validator jars are not in $LIB: run scripts/install-deps.sh (Debian: apt-get install maven)"
  mkdir -p "$ROOT"
  (
    flock -w 600 8 || die "timed out waiting for another resolution ($ROOT/.lock)"
    [[ -f "$LIB/.complete" ]] && exit 0
    local tmp="$LIB.tmp.$$" mlog="$ROOT/mvn.log"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    local args=(-B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies "-DoutputDirectory=$tmp" -DincludeScope=runtime)
    log "resolving HAPI FHIR / HAPI HL7 v2 jars with Maven into $LIB"
    if ! mvn -o "${args[@]}" >"$mlog" 2>&1; then
      log "offline resolution (mvn -o) failed; trying online"
      if ! mvn "${args[@]}" >>"$mlog" 2>&1; then
        tail -n 30 "$mlog" >&2
        rm -rf "$tmp"
        die "could not resolve the validator jars from $POM (offline and online); full output in $mlog"
      fi
    fi
    for j in hapi-fhir-validation-8.8.1.jar hapi-fhir-validation-resources-r4-8.8.1.jar hapi-structures-v26-2.6.0.jar; do
      [[ -f "$tmp/$j" ]] || die "Maven ran but $j is missing from the resolved jars ($tmp)"
    done
    rm -rf "$LIB"
    mv "$tmp" "$LIB"
    touch "$LIB/.complete"
  ) 8>"$ROOT/.lock"
}

ensure_classes() {
  [[ -f "$CLASSES/.complete" ]] && return 0
  command -v javac >/dev/null 2>&1 || die "javac not found: the validators need a JDK 17 (Debian: apt-get install openjdk-17-jdk-headless)"
  (
    flock -w 600 8 || die "timed out waiting for another compilation ($ROOT/.lock-javac)"
    [[ -f "$CLASSES/.complete" ]] && exit 0
    local tmp="$CLASSES.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    javac -nowarn -encoding UTF-8 -d "$tmp" -cp "$LIB/*" "$SRC"/*.java >&2 || { rm -rf "$tmp"; die "javac failed on $SRC/*.java"; }
    rm -rf "$CLASSES"
    mv "$tmp" "$CLASSES"
    touch "$CLASSES/.complete"
  ) 8>"$ROOT/.lock-javac"
}

case "${1:-}" in
  ensure) ensure_jars; ensure_classes; echo "$CLASSES" ;;
  classpath) ensure_jars; ensure_classes; echo "$LIB/*:$CLASSES" ;;
  *) die "usage: $0 ensure|classpath" ;;
esac

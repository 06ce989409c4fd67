#!/bin/sh
# The dependency rules of docs/design.md ("Layering"), checked on the sources:
#   1. the model core (lib/model/) never names a built-in model (lib/models/): it finds
#      kinds through the registry (hb__model_builtin_of) that the built-ins fill;
#   2. a model does not know its wrappers: lib/models/ never includes sst/ nor names
#      hb_sst_* / hb__sst_* (data reaches a wrapped model through the vtable);
#   3. the trainer (lib/train/) steps the model's generic per-step hooks
#      (hb__model_begin_step/end_step), never the SST/LoRA wrappers by name;
#   4. one clock: only lib/core/clock.c reads a system clock (hb__clock_ns, hb__seconds).
# Usage: check_layering.sh SOURCE_ROOT. Prints every violation; exits 1 if there is any.
root=$1
[ -d "$root/lib/model" ] || { echo "usage: $0 SOURCE_ROOT"; exit 2; }
fail=0

# forbid RULE FILES... -- PATTERN: report lines of FILES matching the extended regex.
forbid() {
    rule=$1; pattern=$2; shift 2
    hits=$(grep -nHE "$pattern" "$@" 2>/dev/null)
    if [ -n "$hits" ]; then
        echo "layering rule broken: $rule"
        echo "$hits"
        fail=1
    fi
}

model_core=$(ls "$root"/lib/model/*.c "$root"/lib/model/*.h)
forbid "lib/model/ includes lib/models/" '#[[:space:]]*include[[:space:]]*"models/' $model_core
forbid "lib/model/ names a built-in model" \
    'hb__(quadratic|mlp|gpt|cnn)_|HB_MODEL_(QUADRATIC|MLP|GPT|CNN)|\<(quadratic|mlp|gpt|cnn)\>' $model_core

models=$(ls "$root"/lib/models/*.c "$root"/lib/models/*.h)
forbid "lib/models/ includes the SST/LoRA wrappers" \
    '#[[:space:]]*include[[:space:]]*"(sst/|hessblock/sst\.h)' $models
forbid "lib/models/ names the SST/LoRA wrappers" '\<hb_{1,2}sst_' $models

trainer=$(ls "$root"/lib/train/*.c)
forbid "lib/train/ includes the SST/LoRA wrappers" \
    '#[[:space:]]*include[[:space:]]*"(sst/|hessblock/sst\.h)' $trainer
forbid "lib/train/ names the SST/LoRA wrappers" '\<hb_{1,2}sst_' $trainer

clock_readers=$(find "$root/lib" -name '*.[ch]' ! -path '*/lib/core/clock.c')
forbid "a system clock read outside lib/core/clock.c (use hb__seconds / hb__clock_ns)" \
    '\<(clock_gettime|timespec_get|gettimeofday|clock|time)\(' $clock_readers

[ $fail = 0 ] && echo "layering rules hold"
exit $fail

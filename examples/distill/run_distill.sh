#!/bin/sh
# run_distill.sh -- DeepSeek-R1's "distillation vs RL" experiment in
# miniature, on a CPU, on the demo's addition task. A teacher (the demo's
# 0.8M-parameter model after cold-start SFT and GRPO, seed 1) writes
# completions for the training problems, and the correct, well-formed ones
# are kept (R1's stage-3 filters and dedupe). A 7 times smaller student,
# from its own cold start on the demo's 200 traces, is then trained per
# seed in two arms that get the same budget in tokens:
#   (a) distillation: SFT on the teacher's kept traces (rlvr sft);
#   (b) RL: GRPO with the demo's mix and settings (rlvr train).
# Every model is evaluated with rlvr eval on the same held-out problems
# with the same sampling as the demo; report.py writes the table.
#
# The budget of an arm is the number of tokens the student's loss is taken
# on in its forward+backward passes, plus, for GRPO, every token it
# generated (dropped groups included). Prompt tokens (5-6 per sequence, in
# both arms) are not counted; the teacher's sampling is charged separately,
# as R1 charges its own generation separately. The RL arm runs first; the
# distillation arm then gets the number of SFT steps that spends the same.
# The cold start both arms share is not charged to either.
#
# usage: run_distill.sh RLVR SRCDIR WORKDIR [DEMO_DIR]
#   DEMO_DIR: a finished `make demo` folder (seed 1); its GRPO model is the
#   teacher when its data are the very data this run writes, otherwise the
#   teacher is trained here (about 7 minutes). Writes WORKDIR/results.json
#   and WORKDIR/results.txt.
# The environment can shrink the run (tests/test_distill.py does):
#   DISTILL_SEEDS ("1 2 3"), DISTILL_DATA_ARGS (make_data.py's sizes),
#   DISTILL_TEACHER_SFT, DISTILL_TEACHER_GRPO (the demo's configs),
#   DISTILL_STUDENT_SFT, DISTILL_STUDENT_GRPO, DISTILL_STUDENT_DISTILL,
#   DISTILL_SAMPLE (this folder's configs; the RL arm's is the demo's
#   grpo.lua), DISTILL_BATCH (32, the distillation arm's sequences per
#   step), DISTILL_EVAL_SAMPLES (4), DISTILL_MAX_TOKENS (48).
set -e
if [ $# -lt 3 ]; then
  echo "usage: run_distill.sh RLVR SRCDIR WORKDIR [DEMO_DIR]" >&2
  exit 2
fi
RLVR=$1 SRC=$2 WORK=$3 DEMO_DIR=${4:-}
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
RLVR=$(abs "$RLVR") SRC=$(abs "$SRC")
if [ ! -x "$RLVR" ] || [ ! -f "$SRC/examples/demo/make_data.py" ]; then
  echo "run_distill.sh: $RLVR is not an rlvr program, or $SRC is not rlvr's source folder" >&2
  exit 2
fi
[ -n "$DEMO_DIR" ] && DEMO_DIR=$(abs "$DEMO_DIR")
D=$SRC/examples/distill
MIX=$SRC/lua/examples/r1_mix.lua
SEEDS=${DISTILL_SEEDS:-1 2 3}
DATA_ARGS=${DISTILL_DATA_ARGS:---digits 2 --sft 200 --train 3000 --test 500}
TEACHER_SFT=$(abs "${DISTILL_TEACHER_SFT:-$SRC/examples/demo/sft.lua}")
TEACHER_GRPO=$(abs "${DISTILL_TEACHER_GRPO:-$SRC/examples/demo/grpo.lua}")
STUDENT_SFT=$(abs "${DISTILL_STUDENT_SFT:-$D/student_sft.lua}")
STUDENT_GRPO=$(abs "${DISTILL_STUDENT_GRPO:-$SRC/examples/demo/grpo.lua}")
STUDENT_DISTILL=$(abs "${DISTILL_STUDENT_DISTILL:-$D/student_distill.lua}")
SAMPLE=$(abs "${DISTILL_SAMPLE:-$D/teacher_sample.lua}")
BATCH=${DISTILL_BATCH:-32}
K=${DISTILL_EVAL_SAMPLES:-4}
MAXTOK=${DISTILL_MAX_TOKENS:-48}
REPORT="python3 $D/report.py"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
cd "$WORK"
rm -f times.tsv
now() { date +%s.%N; }
# stage SEED NAME T0: the wall time of a stage, for the table
stage() { echo "$1	$2	$(python3 -c "import sys; print('%.1f' % ($(now) - $3))")" >> times.tsv; }
# the same held-out sampling for every model (the demo's: K samples, T = 1, seed 1)
EVAL="--mix=$MIX --data=data/test.jsonl --num_samples=$K --temperature=1.0 --top_p=1.0 --max_completion_length=$MAXTOK --seed=1"
python3 "$SRC/examples/demo/make_data.py" data $DATA_ARGS --seed 1

# -- the teacher: the demo's model after cold-start SFT and GRPO, seed 1 --------------------------
teacher=
if [ -n "$DEMO_DIR" ]; then
  if [ -f "$DEMO_DIR/grpo/model.safetensors" ] && [ -f "$DEMO_DIR/results.json" ] &&
     python3 -c "import json,sys; sys.exit(json.load(open('$DEMO_DIR/results.json'))['seed'] != 1)" 2>/dev/null &&
     cmp -s data/sft.jsonl "$DEMO_DIR/data/sft.jsonl" && cmp -s data/train.jsonl "$DEMO_DIR/data/train.jsonl" &&
     cmp -s data/test.jsonl "$DEMO_DIR/data/test.jsonl"; then
    teacher=$DEMO_DIR/grpo
    echo "reused $DEMO_DIR (a finished make demo, seed 1, on the very data of this run)" > teacher.txt
  else
    echo "run_distill.sh: $DEMO_DIR is not a finished seed-1 demo on this run's data; the teacher is trained here" >&2
  fi
fi
if [ -z "$teacher" ]; then
  rm -rf teacher
  mkdir -p teacher
  cp -r data teacher/data
  t0=$(now)
  "$RLVR" sft "$TEACHER_SFT" --data=data/sft.jsonl --output_dir=teacher/sft --seed=1 --init_seed=1 --progress=false
  "$RLVR" train "$TEACHER_GRPO" --model=teacher/sft --data=data/train.jsonl --mix="$MIX" --eval_data=data/test.jsonl \
    --output_dir=teacher/grpo --seed=1 --progress=false
  stage teacher train "$t0"
  # the layout of a make demo folder, so that a later run can reuse it
  "$RLVR" eval $EVAL --model=teacher/grpo --output=teacher/eval_grpo.json
  echo '{"seed": 1}' > teacher/results.json
  teacher=teacher/grpo
  echo "trained here ($TEACHER_SFT, then $TEACHER_GRPO, seed 1)" > teacher.txt
fi
echo "== teacher: $(cat teacher.txt)"
"$RLVR" eval $EVAL --model="$teacher" --output=eval_teacher.json

# -- the teacher's samples, filtered: the distillation data (charged separately) --------------------
t0=$(now)
"$RLVR" sample "$SAMPLE" --model="$teacher" --data=data/train.jsonl --mix="$MIX" --seed=1 \
  --output=kept.jsonl --summary=sample_summary.json
stage teacher sample "$t0"
if [ ! -s kept.jsonl ]; then
  echo "run_distill.sh: the teacher's samples kept none; there is nothing to distil" >&2
  exit 1
fi

# -- the student, per seed: cold start, then the two arms ------------------------------------------
for s in $SEEDS; do
  echo "== student, seed $s"
  t0=$(now)
  "$RLVR" sft "$STUDENT_SFT" --data=data/sft.jsonl --output_dir=seed-$s/cold --seed="$s" --init_seed="$s" \
    --progress=false
  stage "$s" cold "$t0"
  "$RLVR" eval $EVAL --model=seed-$s/cold --output=seed-$s/eval_cold.json
  # (b) RL first: its budget is what it spends
  t0=$(now)
  "$RLVR" train "$STUDENT_GRPO" --model=seed-$s/cold --data=data/train.jsonl --mix="$MIX" \
    --eval_data=data/test.jsonl --output_dir=seed-$s/rl --seed="$s" --progress=false
  stage "$s" rl "$t0"
  "$RLVR" eval $EVAL --model=seed-$s/rl --output=seed-$s/eval_rl.json
  # (a) distillation: as many SFT steps as spend the RL arm's tokens
  budget=$($REPORT budget seed-$s/rl)
  steps=$($REPORT steps kept.jsonl "$budget" "$BATCH")
  echo "== seed $s: the RL arm spent $budget tokens; distillation gets $steps steps of $BATCH sequences"
  t0=$(now)
  "$RLVR" sft "$STUDENT_DISTILL" --model=seed-$s/cold --data=kept.jsonl --output_dir=seed-$s/distill --seed="$s" \
    --max_steps="$steps" --per_device_train_batch_size="$BATCH" --progress=false
  stage "$s" distill "$t0"
  "$RLVR" eval $EVAL --model=seed-$s/distill --output=seed-$s/eval_distill.json
done
$REPORT report "$WORK" "$BATCH" $SEEDS

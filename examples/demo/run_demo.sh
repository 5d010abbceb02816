#!/bin/sh
# run_demo.sh -- DeepSeek-R1-Zero in miniature, on a CPU: a cold-start SFT on
# a small set of addition traces, then GRPO with the R1 mix (math accuracy +
# format), each model evaluated on the same 500 held-out problems with the
# same sampling settings. `make demo` runs it for one seed.
#
# usage: run_demo.sh RLVR SRCDIR WORKDIR SEED [continued-sft]
#   writes WORKDIR/results.json (machine-readable) and WORKDIR/results.txt
#   (the table); with "continued-sft" it also continues the SFT for the
#   GRPO stage's wall time, as the baseline GRPO must beat.
set -e
RLVR=$1 SRC=$2 WORK=$3 SEED=${4:-1} EXTRA=${5:-}
DEMO=$SRC/examples/demo
MIX=$SRC/lua/examples/r1_mix.lua
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
cd "$WORK"
# the same held-out sampling for every model: 500 problems x 4 samples, T = 1
EVAL="--mix=$MIX --data=data/test.jsonl --num_samples=4 --temperature=1.0 --top_p=1.0 --max_completion_length=48 --seed=$SEED"
python3 "$DEMO/make_data.py" data --digits 2 --sft 200 --train 3000 --test 500 --seed "$SEED"
t0=$(date +%s.%N)
"$RLVR" sft "$DEMO/sft.lua" --data=data/sft.jsonl --output_dir=sft --seed="$SEED" --init_seed="$SEED" --progress=false
t1=$(date +%s.%N)
"$RLVR" eval $EVAL --model=sft --output=eval_sft.json
"$RLVR" train "$DEMO/grpo.lua" --model=sft --data=data/train.jsonl --mix="$MIX" --eval_data=data/test.jsonl \
  --output_dir=grpo --seed="$SEED" --progress=false
t2=$(date +%s.%N)
"$RLVR" eval $EVAL --model=grpo --output=eval_grpo.json
if [ "$EXTRA" = continued-sft ]; then
  # SFT again from the cold-start model, on the same traces, for as long as
  # GRPO took: its steps are the GRPO seconds times the SFT's steps per second
  steps=$(python3 -c "import json,sys; m=[json.loads(l) for l in open('sft/metrics.jsonl')]; \
sps=m[-1]['step']/m[-1]['elapsed']; print(max(1, int(sps*($t2-$t1))))")
  "$RLVR" sft "$DEMO/sft.lua" --model=sft --model_init=null --data=data/sft.jsonl --output_dir=sft_more \
    --seed="$SEED" --max_steps="$steps" --warmup_steps=0 --lr_scheduler_type=constant --learning_rate=2e-4 \
    --progress=false
  "$RLVR" eval $EVAL --model=sft_more --output=eval_sft_more.json
fi
python3 "$DEMO/report.py" "$WORK" "$SEED" "$t0" "$t1" "$t2"

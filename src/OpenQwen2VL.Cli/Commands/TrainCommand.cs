using System.CommandLine;
using System.Runtime.InteropServices;
using OpenQwen2VL.Training;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Data;
using OpenQwen2VL.Training.Model;
using OpenQwen2VL.Training.Observability;
using Spectre.Console;
using static TorchSharp.torch;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>`oqvl train`: one stage of the recipe (pretrain, sft or align) into a run folder.</summary>
public sealed class TrainCommand : ICliCommand
{
    /// <summary>Vocabulary of the tiny preset (the synthetic data's token ids fit in it).</summary>
    const int TinyVocab = 256;

    /// <summary>The tiny preset's own defaults (under the user's config file and --set): CPU-sized batches, a demo learning rate.</summary>
    static readonly string[] TinyPresetDefaults =
        ["global_batch_sequences=8", "micro_batch_sequences=4", "learning_rate=0.002", "log_every=1", "checkpoint_every=10", "max_steps=40"];

    public Command Build()
    {
        var stage = new Option<string>("--stage") { Description = "pretrain | sft | align", Required = true };
        var data = new Option<string>("--data") { Description = "training data: shards:SPEC (packed shards, e.g. packed/{00000..00009}.tar), sft:JSON,IMAGE_ROOT (LLaVA SFT JSON; tokenizer from --llm) or synthetic:N", Required = true };
        var outDir = new Option<string>("--out") { Description = "run folder (config.json, metrics.jsonl, checkpoints/, final/)", Required = true };
        var config = new Option<string?>("--config") { Description = "JSON file overriding the stage's defaults" };
        var maxSteps = new Option<int?>("--max-steps") { Description = "optimiser steps (fixes the LR schedule)" };
        var stopAt = new Option<int?>("--stop-at") { Description = "end after N steps as an interruption would (checkpoint saved)" };
        var resume = new Option<bool>("--resume") { Description = "continue from the run folder's latest checkpoint" };
        var set = new Option<string[]>("--set") { Description = "config override key=value (repeatable)", AllowMultipleArgumentsPerToken = true };
        var device = new Option<string>("--device") { Description = "cpu | cuda", DefaultValueFactory = _ => "cpu" };
        var llm = new Option<string?>("--llm") { Description = "HF Qwen2/Qwen2.5 folder" };
        var vision = new Option<string?>("--vision") { Description = "HF SigLIP folder" };
        var projector = new Option<string?>("--projector") { Description = "projector safetensors of an earlier stage" };
        var preset = new Option<string?>("--preset") { Description = "built-in random-init model instead of --llm/--vision: tiny" };
        var peak = new Option<double?>("--peak-flops") { Description = "peak matmul FLOP/s for the MFU column (e.g. from the training benchmark)" };

        var cmd = new Command("train", "Train one stage (pretrain | sft | align) of the Open-Qwen2VL recipe");
        foreach (var o in new Option[] { stage, data, outDir, config, maxSteps, stopAt, resume, set, device, llm, vision, projector, preset, peak })
            cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var st = r.GetValue(stage) switch
            {
                "pretrain" => Stage.Pretrain,
                "sft" => Stage.Sft,
                "align" => Stage.Align,
                var s => throw new CliUserException($"--stage must be pretrain, sft or align, got '{s}'"),
            };
            bool tiny = r.GetValue(preset) switch
            {
                null => false,
                "tiny" => true,
                var p => throw new CliUserException($"unknown --preset '{p}' (known: tiny)"),
            };
            if (tiny == (r.GetValue(llm) is not null || r.GetValue(vision) is not null))
                throw new CliUserException("give either --preset tiny or both --llm DIR and --vision DIR");
            if (!tiny && (r.GetValue(llm) is null || r.GetValue(vision) is null))
                throw new CliUserException("--llm and --vision go together");
            var dev = r.GetValue(device) switch
            {
                "cpu" => CPU,
                "cuda" when cuda.is_available() => CUDA,
                "cuda" => throw new CliUserException("--device cuda: CUDA is not available (build with -p:TorchBackend=cuda)"),
                var d => throw new CliUserException($"--device must be cpu or cuda, got '{d}'"),
            };

            var overrides = (r.GetValue(set) ?? []).ToList();
            if (r.GetValue(maxSteps) is int n) overrides.Add($"max_steps={n}");
            if (r.GetValue(peak) is double pf) overrides.Add($"peak_flops={pf}");
            var presetDefaults = tiny ? TinyPresetDefaults.Append($"visual_pool_side={(st == Stage.Sft ? 8 : 4)}") : [];
            StageConfig cfg;
            try { cfg = StageConfig.Resolve(st, r.GetValue(config), overrides, presetDefaults); }
            catch (Exception e) when (e is ArgumentException or IOException) { throw new CliUserException(e.Message); }

            manual_seed(cfg.Seed);
            ITrainableModel model;
            try
            {
                model = tiny
                    ? VlmTrainableModel.Tiny(TinyVocab, cfg.Seed)
                    : VlmTrainableModel.FromFolders(r.GetValue(llm)!, r.GetValue(vision)!, r.GetValue(projector), cfg.VisualPoolSide, cfg.Seed);
            }
            catch (Exception e) when (e is IOException or InvalidDataException) { throw new CliUserException(e.Message); }
            using var _ = model;
            var vlm = ((VlmTrainableModel)model).Vlm;
            vlm.Projector.PoolSide = cfg.VisualPoolSide;

            var runDir = r.GetValue(outDir)!;
            var provenance = new Dictionary<string, string>
            {
                ["vision"] = tiny ? $"preset:tiny (seed {cfg.Seed}, saved as vision.safetensors)" : Path.GetFullPath(r.GetValue(vision)!),
                ["llm_init"] = tiny ? "preset:tiny" : Path.GetFullPath(r.GetValue(llm)!),
                ["projector_init"] = r.GetValue(projector) is string pj ? Path.GetFullPath(pj) : "new",
                ["data"] = r.GetValue(data)!,
            };
            IBatchSource source;
            try
            {
                // sft: data is tokenized here with the LLM folder's tokenizer; samples are cut to the stage's sequence length.
                source = BatchSourceSpec.Open(r.GetValue(data)!, cfg.MicroBatchSequences, vlm.Config.Vision.ImageSize,
                    (int)vlm.Config.Llm.VocabSize, cfg.Seed, rank: 0, world: 1,
                    tokenizerPath: tiny ? null : Path.Combine(r.GetValue(llm)!, "tokenizer.json"), model.VisualTokensPerImage, cfg.SequenceLength, cfg.GroupByImageCount);
            }
            catch (ArgumentException e) { throw new CliUserException(e.Message); }
            using var __ = source;

            // Ctrl-C / SIGTERM: finish the step, save a checkpoint, exit cleanly.
            using var cts = new CancellationTokenSource();
            void OnSignal(PosixSignalContext c) { c.Cancel = true; cts.Cancel(); }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

            TrainingResult result;
            try
            {
                result = RunWithProgress(cfg, o => new Trainer(model, source, new TrainerOptions
                {
                    Config = cfg, RunDirectory = runDir, Device = dev, StopAt = r.GetValue(stopAt), Resume = r.GetValue(resume),
                    SaveFrozenComponents = tiny, Cancellation = cts.Token, Provenance = provenance, OnLog = o,
                    TokenizerDirectory = tiny ? null : r.GetValue(llm),
                }).Run());
            }
            catch (TrainingException e) { throw new CliUserException(e.Message); }
            PrintSummary(result, runDir, cts.IsCancellationRequested);
            return 0;
        });
        return cmd;
    }

    static TrainingResult RunWithProgress(StageConfig cfg, Func<Action<IReadOnlyList<StepMetrics>>, TrainingResult> run)
    {
        TrainingResult? result = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask($"{cfg.Stage.ToString().ToLowerInvariant()}", maxValue: cfg.MaxSteps);
                result = run(lines =>
                {
                    var m = lines[^1];
                    task.Value = m.Step + 1;
                    string mfu = m.Mfu is double x ? $" mfu {x:P1}" : "";
                    task.Description = Markup.Escape($"step {m.Step + 1}/{m.MaxSteps} loss {m.Loss:F4} lr {m.Lr:E2} |g| {m.GradNorm:F2} {m.TokensPerSecond:F0} tok/s {m.ImagesPerSecond:F1} img/s{mfu}");
                });
            });
        return result!;
    }

    static void PrintSummary(TrainingResult r, string runDir, bool signalled)
    {
        var t = new Table().Title(r.Finished ? "training finished" : signalled ? "training interrupted (signal): resume with --resume" : "training stopped (--stop-at): resume with --resume");
        t.AddColumns("", "");
        t.AddRow("steps", $"{r.StartStep} -> {r.StepsCompleted}");
        t.AddRow("loss", $"{r.FirstLoss:F4} -> {r.LastLoss:F4}");
        t.AddRow("tokens (this session)", $"{r.TokensSeen:N0}");
        t.AddRow("elapsed (whole run)", TimeSpan.FromSeconds(r.ElapsedSeconds).ToString(@"hh\:mm\:ss"));
        t.AddRow("skipped NaN/Inf steps", r.NonFiniteSkipped.ToString());
        t.AddRow("last checkpoint", Markup.Escape(r.LastCheckpoint ?? "-"));
        t.AddRow("final weights", Markup.Escape(r.FinalDirectory ?? "-"));
        t.AddRow("metrics / plot", Markup.Escape($"{Path.Combine(runDir, "metrics.jsonl")} / {Path.Combine(runDir, "loss.png")}"));
        AnsiConsole.Write(t);
    }
}

using System.CommandLine;
using System.Runtime.InteropServices;
using OpenQwen2VL.Cli.Distributed;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Distributed;
using OpenQwen2VL.Training.Jobs;
using OpenQwen2VL.Training.Observability;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary><c>oqvl train</c>: one stage of the recipe (pretrain, sft or align) into a run folder (<see cref="TrainingJob"/>).</summary>
public sealed class TrainCommand : ICliCommand
{
    public Command Build()
    {
        var stage = CommonOptions.Enum<Stage>("--stage", "the recipe's stage");
        var data = new Option<string>("--data")
        {
            Description = "a folder from oqvl pack (packed sequences), curate or synth (caption shards; synth's SFT conversations in --stage sft), " +
                          "or shards:SPEC (packed), captions:SPEC, sft:JSON,IMAGE_ROOT, synthetic:N; " +
                          "or a mixture NAME=SOURCE:WEIGHT,... (e.g. caption=packed_cc/:0.8,interleaved=packed_obelics/:0.2): each micro-batch from one source, " +
                          "deterministically by weight, resumable",
            Required = true, HelpName = "DIR|SPEC",
        };
        var outDir = CommonOptions.Out("run folder (manifest.json, config.json, metrics.jsonl, loss.png, checkpoints/, final/)");
        var preset = CommonOptions.OptionalEnum<ModelPreset>("--preset", "a built-in randomly initialised model, sized from the data's tokenizer (instead of --model)");
        var model = CommonOptions.Model("initial weights: a model or run folder (e.g. the pre-training run for SFT), or a released Open-Qwen2VL .pt");
        var llm = CommonOptions.Llm();
        var vision = CommonOptions.Vision();
        var projector = CommonOptions.Projector();
        var tokenizer = CommonOptions.Tokenizer("tokenizer.json (default: the model's, or for --preset the data's)");
        var config = new Option<string?>("--config") { Description = "JSON file overriding the stage's defaults", HelpName = "FILE" };
        var maxSteps = new Option<int?>("--max-steps") { Description = "optimiser steps (fixes the LR schedule)", HelpName = "N" };
        var stopAt = new Option<int?>("--stop-at") { Description = "end after N steps as an interruption would (checkpoint saved)", HelpName = "N" };
        var resume = new Option<bool>("--resume") { Description = "continue from the run folder's latest checkpoint" };
        var set = new Option<string[]>("--set") { Description = "config override key=value, e.g. visual_tokens=144, micro_batch_sequences=2 (repeatable)", AllowMultipleArgumentsPerToken = true, HelpName = "KEY=VALUE" };
        var visualTokens = CommonOptions.VisualTokens("visual tokens per image (= --set visual_tokens=N; default: 144 in pre-training, the full grid in SFT)");
        var seed = new Option<int?>("--seed") { Description = $"seed (= --set seed=N; default {CommonOptions.DefaultSeed})", HelpName = "N" };
        var device = CommonOptions.Device();
        var peak = new Option<double?>("--peak-flops") { Description = "peak matmul FLOP/s for the MFU column (e.g. from the training benchmark)", HelpName = "FLOPS" };
        maxSteps.AtLeast(1);
        stopAt.AtLeast(1);
        var outsideRoot = new Option<bool>("--allow-images-outside-root")
        {
            Description = "SFT data: read images named by absolute paths or paths leading out of the image root (.., symlinks). " +
                "Off by default because an annotation file from the internet could otherwise make training read any file on this machine; only for files you trust",
        };
        peak.InRange(0.0, double.MaxValue, minExclusive: true);
        var decodeBudget = CommonOptions.DecodeBudgetMib();
        var nproc = new Option<int?>("--nproc")
        {
            Description = "train on N processes of this machine (data parallel over MPI; launches mpiexec itself). Several machines: " +
                "mpiexec -f HOSTFILE -n N oqvl train ... or srun --mpi=pmi2 oqvl train ... (ranks come from MPI)",
            HelpName = "N",
        };
        nproc.AtLeast(1);

        var cmd = new Command("train", "Train one stage (pretrain | sft | align) of the Open-Qwen2VL recipe into a run folder. " +
            "Ctrl-C or SIGTERM: the current step finishes, a checkpoint is saved (continue with --resume) and the exit code is " +
            $"{InterruptedExitCode(PosixSignal.SIGINT)} (SIGINT) or {InterruptedExitCode(PosixSignal.SIGTERM)} (SIGTERM), as a shell reports a process ended by that signal");
        foreach (var o in new Option[] { stage, data, outDir, preset, model, llm, vision, projector, tokenizer, config, maxSteps, stopAt, resume, outsideRoot, set, visualTokens, seed, device, peak, decodeBudget, nproc })
            cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            bool rank = MpiCollective.LaunchedAsRank();
            if (r.GetValue(nproc) is int n0 && n0 > 1)
            {
                if (rank) throw new CliUserException("--nproc starts the ranks itself: under mpiexec, mpirun or srun leave it out (the rank count comes from MPI)");
                return MpiLauncher.Run(n0, MpiLauncher.WithoutNproc(Environment.GetCommandLineArgs().Skip(1).ToList()), r.InvocationConfiguration.Error);
            }
            using var collective = rank ? MpiCollective.Join() : null;
            try { return Train(r, collective); }
            catch (Exception e) when (collective is { WorldSize: > 1 })
            {
                // One line naming the rank, then MPI_Abort: the other ranks may be waiting in a collective for this one.
                var (code, message) = FailureReport.Describe(e);
                r.InvocationConfiguration.Error.WriteLine(message.StartsWith("rank ", StringComparison.Ordinal) ? $"oqvl: {message}" : $"oqvl: rank {collective.Rank} of {collective.WorldSize}: {message}");
                r.InvocationConfiguration.Error.Flush();
                collective.Abort(code);
                throw;
            }
        });
        return cmd;

        int Train(ParseResult r, MpiCollective? collective)
        {
            var overrides = (r.GetValue(set) ?? []).ToList();
            if (r.GetValue(maxSteps) is int n) overrides.Add($"max_steps={n}");
            if (r.GetValue(visualTokens) is int vt) overrides.Add($"visual_tokens={vt}");
            if (r.GetValue(seed) is int s) overrides.Add($"seed={s}");
            if (r.GetValue(peak) is double pf) overrides.Add($"peak_flops={pf}");
            bool explicitModel = new[] { r.GetValue(model), r.GetValue(llm), r.GetValue(vision), r.GetValue(projector) }.Any(x => x is not null);
            string runDir = r.GetValue(outDir)!;
            bool root = collective is null || collective.Rank == 0;
            var deviceName = r.GetValue(device)!;
            // One GPU per rank: --device cuda means cuda:LOCAL_RANK.
            if (collective is { WorldSize: > 1 } && deviceName == "cuda") deviceName = $"cuda:{collective.LocalRank}";
            // Ranks sharing this machine's cores: each takes its share of libtorch's threads.
            if (collective is { LocalSize: > 1 } && deviceName == "cpu" && Environment.GetEnvironmentVariable("OMP_NUM_THREADS") is null)
                TorchSharp.torch.set_num_threads(Math.Max(1, Environment.ProcessorCount / collective.LocalSize));

            // Ctrl-C / SIGTERM: finish the step, save a checkpoint, exit cleanly.
            using var cts = new CancellationTokenSource();
            PosixSignal? received = null;
            void OnSignal(PosixSignalContext c) { c.Cancel = true; received ??= c.Signal; cts.Cancel(); }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

            var options = new TrainingJobOptions
            {
                Stage = r.GetValue(stage), Data = r.GetValue(data)!, RunDirectory = runDir, Preset = r.GetValue(preset),
                Model = explicitModel ? new ModelRequest { Model = r.GetValue(model), Llm = r.GetValue(llm), Vision = r.GetValue(vision), Projector = r.GetValue(projector) } : null,
                Tokenizer = r.GetValue(tokenizer), ConfigFile = r.GetValue(config), Overrides = overrides,
                Device = CommonOptions.ToDevice(deviceName), StopAt = r.GetValue(stopAt), Resume = r.GetValue(resume), AllowImagesOutsideRoot = r.GetValue(outsideRoot), Cancellation = cts.Token,
                ImageLimits = ImageLimits.Default.WithDecodeBudget(r.GetValue(decodeBudget)),
                Log = line => { if (root) r.InvocationConfiguration.Error.WriteLine(line); },
                Collective = collective is null ? new SingleProcessCollective() : collective,
            };
            // Rank 0 alone reports; the other ranks train quietly.
            var result = root ? RunWithProgress(options) : TrainingJob.Run(options);
            if (root) PrintSummary(result, runDir, cts.IsCancellationRequested);
            if (root && collective is { WorldSize: > 1 } c)
                r.InvocationConfiguration.Error.WriteLine($"{c.WorldSize} ranks: rank 0 spent {result.CommunicationSeconds:F2} s of {result.ElapsedSeconds:F2} s in all-reduce/all-gather");
            // A signalled run is not a success for a scheduler (a job array, systemd) even with its checkpoint saved.
            return result.Interrupted && received is { } signal ? InterruptedExitCode(signal) : 0;
        }
    }

    /// <summary>
    /// The exit code of a run ended by <paramref name="signal"/> after its graceful checkpoint: 128 + the signal number
    /// (130 for SIGINT, 143 for SIGTERM), the shell's convention for a process ended by a signal.
    /// </summary>
    public static int InterruptedExitCode(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGINT => 128 + 2,
        PosixSignal.SIGTERM => 128 + 15,
        _ => 1,
    };

    static TrainingResult RunWithProgress(TrainingJobOptions options)
    {
        TrainingResult? result = null;
        LiveProgress.Run(AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn()),
            ctx =>
            {
                ProgressTask? task = null;
                result = TrainingJob.Run(options with
                {
                    OnLog = lines =>
                    {
                        var m = lines[^1];
                        task ??= ctx.AddTask(options.Stage.ToString().ToLowerInvariant(), maxValue: m.MaxSteps);
                        task.Value = m.Step + 1;
                        string mfu = m.Mfu is double x ? $" mfu {x:P1}" : "";
                        task.Description = Markup.Escape($"step {m.Step + 1}/{m.MaxSteps} loss {m.Loss:F4} lr {m.Lr:E2} |g| {m.GradNorm:F2} {m.TokensPerSecond:F0} tok/s {m.ImagesPerSecond:F1} img/s{mfu}");
                    },
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
        t.AddRow("final model", Markup.Escape(r.FinalDirectory is null ? "-" : $"{r.FinalDirectory} (use it with --model {runDir})"));
        t.AddRow("metrics / plot", Markup.Escape($"{Path.Combine(runDir, "metrics.jsonl")} / {Path.Combine(runDir, "loss.png")}"));
        AnsiConsole.Write(t);
    }
}

using TorchSharp;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Model;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training.Memory;
using OpenQwen2VL.Training.Checkpoints;
using OpenQwen2VL.Data.Checkpoints;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Data;
using OpenQwen2VL.Training.Distributed;
using OpenQwen2VL.Training.Model;
using OpenQwen2VL.Training.Observability;
using OpenQwen2VL.Training.Optim;
using OpenQwen2VL.Training.Precision;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training;

/// <summary>
/// Runs one stage: accumulation to the global batch, fp32-master AdamW with warm-up + cosine and
/// global-norm clipping, NaN/Inf skipping, checkpoints and exact resume, metrics, final export.
/// Host syncs happen only at log intervals and checkpoints.
/// <para>
/// On several ranks (<see cref="TrainerOptions.Collective"/>) it is data parallel: each rank runs its share of the
/// micro-batches, gradients are all-reduced and averaged over the global batch's target tokens, and with zero_stage 1
/// the AdamW state is sharded (<see cref="ZeroShardedAdamW"/>). Rank 0 alone writes config, metrics, plots, weights and
/// final/; each rank writes its optimizer shard into the checkpoint, and rank 0 records every rank's loader position.
/// </para>
/// </summary>
public sealed class Trainer
{
    readonly ITrainableModel _model;
    readonly IBatchSource _data;
    readonly TrainerOptions _o;
    readonly StageConfig _cfg;
    readonly CheckpointStore _store;
    readonly HashSet<ModelComponent> _trained;
    readonly ICollective _c;
    bool IsRoot => _c.Rank == 0;
    /// <summary>Whether the optimizer state is sharded over the ranks (zero_stage 1 on more than one rank).</summary>
    bool Sharded => _c.WorldSize > 1 && _cfg.ZeroStage == 1;

    public Trainer(ITrainableModel model, IBatchSource data, TrainerOptions options)
    {
        _model = model; _data = data; _o = options; _cfg = options.Config; _c = options.Collective;
        _cfg.Validate();
        _store = new CheckpointStore(Path.Combine(options.RunDirectory, RunLayout.Checkpoints), _cfg.KeepLastCheckpoints);
        _trained = [];
        if (_cfg.TrainLlm) _trained.Add(ModelComponent.Llm);
        if (_cfg.TrainProjector) _trained.Add(ModelComponent.Projector);
        if (_cfg.TrainVision) _trained.Add(ModelComponent.Vision);
        if (_trained.Count == 0) throw new ArgumentException("nothing to train: train_llm, train_projector and train_vision are all false");
    }

    public static ScalarType ComputeDtype(string precision, Device device) => precision switch
    {
        "auto" => device.type == TorchSharp.DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32,
        "bf16" => ScalarType.BFloat16,
        "fp32" => ScalarType.Float32,
        _ => throw new ArgumentException($"precision must be auto, bf16 or fp32, got '{precision}'"),
    };

    sealed class PendingStep
    {
        public int Step; public double Lr; public double TokensPerSecond, ImagesPerSecond, FlopsPerSecond;
        public required Tensor Loss, Norm, Apply, Padding;
        public void Dispose() { Loss.Dispose(); Norm.Dispose(); Apply.Dispose(); Padding.Dispose(); }
    }

    public TrainingResult Run()
    {
        var run = _o.RunDirectory;
        if (IsRoot)
        {
            Directory.CreateDirectory(run);
            WriteAtomic(Path.Combine(run, RunLayout.Config), _cfg.ToJson());
        }
        int world = _c.WorldSize;
        int accum = _cfg.AccumulationSteps(world);
        var device = _o.Device;

        _model.SetTrainable(_cfg.TrainLlm, _cfg.TrainProjector, _cfg.TrainVision);
        using var masters = MasterWeights.Create(_model, ComputeDtype(_cfg.Precision, device), device);
        _model.LayerCheckpoint = _cfg.ActivationCheckpointing ? ActivationCheckpoint.Apply : null;
        var groups = ParameterGroup.DecayAndNoDecay(masters.Entries.Select(e => e.Model), _cfg.WeightDecay);
        var decayOf = groups.SelectMany(g => g.Parameters.Select(p => (p.Key, g.WeightDecay))).ToDictionary(x => x.Key, x => x.WeightDecay);
        var optimized = masters.Entries.Select(e => (e.Key, e.Master, decayOf[e.Key])).ToList();
        // Every rank starts from rank 0's weights (the same by construction; this makes it so whatever happened).
        if (world > 1)
        {
            _c.Broadcast(masters.Entries.Select(e => e.Master).ToList(), 0);
            masters.CopyToModel();
        }
        using IMasterOptimizer optimizer = Sharded
            ? new ZeroShardedAdamW(optimized, _cfg.Beta1, _cfg.Beta2, _cfg.Epsilon, _c, (long)_cfg.BucketMb << 20)
            : new MaskedAdamW(optimized, _cfg.Beta1, _cfg.Beta2, _cfg.Epsilon);
        if (world > 1)
            _o.Log?.Invoke($"{world} ranks, zero_stage {(Sharded ? 1 : 0)}: optimizer state {optimizer.StateBytes / 1048576.0:F2} MiB per rank " +
                $"(unsharded {optimized.Sum(p => p.Item2.numel()) * 2L * sizeof(float) / 1048576.0:F2} MiB); gradients all-reduced in {_cfg.BucketMb} MB buckets");
        var schedule = new WarmupCosineSchedule(_cfg.LearningRate, _cfg.MaxSteps, _cfg.WarmupRatio);
        using var inRow = tensor(0f, device: device);     // steps in a row without an update (device side)
        using var skipped = tensor(0f, device: device);   // skipped steps in total

        int step = 0;
        double elapsedBefore = 0;
        string? lastCheckpoint = null;
        if (_o.Resume)
        {
            // The newest checkpoint whose state and files are intact; damaged newer ones are skipped with a warning.
            var latest = _store.LatestValid(_cfg.MaxSteps, CheckpointProblem, _o.Warn ?? (_ => { }));
            // Every rank must resume the same step (a damaged shard on one rank would otherwise split the job).
            if (world > 1 && _c.AllGatherText(latest.Step.ToString(System.Globalization.CultureInfo.InvariantCulture)) is var steps && steps.Distinct().Count() > 1)
                throw new TrainingException($"--resume: the ranks found different usable checkpoints (steps {string.Join(", ", steps)} by rank): " +
                    $"a checkpoint's shard is damaged; remove the newer checkpoint folders of {_store.Directory} that are not complete on every rank");
            TrainerState state;
            using (NewDisposeScope()) state = LoadCheckpoint(latest.Path, latest.State, masters, optimizer);
            step = state.Step;
            elapsedBefore = state.ElapsedSeconds;
            using var inRowValue = state.NonFiniteInRow.ToScalar();   // Scalars held over the calls (see CachedScalars)
            using var skippedValue = state.NonFiniteSkippedTotal.ToScalar();
            using (no_grad()) { inRow.fill_(inRowValue); skipped.fill_(skippedValue); }
            lastCheckpoint = latest.Path;
        }
        else if (IsRoot && _store.Latest() is not null)
            throw new TrainingException($"{run} already has checkpoints: pass --resume to continue it, or choose a new --out");
        // NaN/Inf weights would only give NaN losses, every step skipped: refuse them before the first step.
        if (NonFiniteWeights.First(ModelWeights(), device) is { } poisoned)
            throw new TrainingException($"the {(lastCheckpoint is null ? "initial" : $"resumed ({lastCheckpoint})")} weights hold NaN/Inf values " +
                $"(first in '{poisoned}'): training cannot recover from them; start from another model or checkpoint");

        var metrics = IsRoot ? new MetricsLog(Path.Combine(run, RunLayout.Metrics), step) : null;
        var pending = new List<PendingStep>();
        var clock = Stopwatch.StartNew();
        var throughput = new ThroughputMeter();
        throughput.Start(0);
        int startStep = step, lastSaved = _o.Resume ? step : -1;
        double firstLoss = double.NaN, lastLoss = double.NaN;
        StepMetrics? lastStep = null;   // the last step run, skipped or not
        long tokensSeen = 0;
        bool interrupted = false;

        void Flush()
        {
            if (pending.Count == 0) return;
            double now = clock.Elapsed.TotalSeconds;
            using var scope = NewDisposeScope();
            var loss = stack(pending.Select(p => p.Loss).ToArray()).to(ScalarType.Float64).cpu().data<double>().ToArray();
            var norm = stack(pending.Select(p => p.Norm).ToArray()).to(ScalarType.Float64).cpu().data<double>().ToArray();
            var apply = stack(pending.Select(p => p.Apply).ToArray()).cpu().data<float>().ToArray();
            var pad = stack(pending.Select(p => p.Padding).ToArray()).to(ScalarType.Float64).cpu().data<double>().ToArray();
            var lines = pending.Select((p, i) => new StepMetrics(p.Step, loss[i], p.Lr, norm[i], apply[i] == 0,
                p.TokensPerSecond, p.ImagesPerSecond, pad[i], _cfg.PeakFlops > 0 ? p.FlopsPerSecond / _cfg.PeakFlops : null, elapsedBefore + now, _cfg.MaxSteps)).ToList();
            metrics?.Append(lines);
            lastStep = lines[^1];
            foreach (var l in lines.Where(l => !l.Skipped))
            {
                if (double.IsNaN(firstLoss)) firstLoss = l.Loss;
                lastLoss = l.Loss;
            }
            foreach (var p in pending) p.Dispose();
            pending.Clear();
            if (IsRoot) _o.OnLog?.Invoke(lines);
            int row = (int)inRow.item<float>();
            if (row >= _cfg.MaxNonFiniteInRow)
                throw new TrainingException($"aborting at step {lines[^1].Step}: {row} optimiser steps in a row had a NaN/Inf loss or gradient " +
                    $"(max_non_finite_in_row = {_cfg.MaxNonFiniteInRow}); the weights were not updated by them. Lower learning_rate or check the data, then --resume from the last checkpoint.");
        }

        string Save()
        {
            using var scope = NewDisposeScope();
            double elapsed = elapsedBefore + clock.Elapsed.TotalSeconds;
            if (world == 1)
                return lastCheckpoint = _store.Save(step, dir => SaveCheckpoint(dir, step, masters, optimizer, inRow, skipped, elapsed, null));
            // Every rank's loader position and RNG, then (sharded) every rank's optimizer shard into rank 0's temp folder;
            // rank 0 renames the folder into place only once all of it is written, so a checkpoint is whole or absent.
            var positions = _c.AllGatherText(RankPosition().ToJsonString());
            if (IsRoot) _store.Begin(step);
            _c.Barrier();
            if (Sharded) WriteAtomicSafetensors(optimizer.StateTensors(), Path.Combine(_store.TempPath(step), ShardFile(_c.Rank)));
            _c.Barrier();
            if (IsRoot)
            {
                SaveCheckpoint(_store.TempPath(step), step, masters, optimizer, inRow, skipped, elapsed, positions);
                _store.Commit(step);
            }
            return lastCheckpoint = _store.FinalPath(step);
        }

        while (step < _cfg.MaxSteps)
        {
            bool stop = (_o.StopAt is int stopAt && step >= stopAt) || _o.Cancellation.IsCancellationRequested;
            // A signal may reach the ranks at different steps: they stop together at the first step any of them saw it.
            if (world > 1) stop = AnyRank(stop);
            if (stop) { interrupted = true; break; }
            var (p, work) = RunStep(step, accum, masters, optimizer, schedule, inRow, skipped);
            tokensSeen += work.Positions;
            throughput.StepCompleted(clock.Elapsed.TotalSeconds, work.Positions, work.Images, work.Flops);
            (p.TokensPerSecond, p.ImagesPerSecond, p.FlopsPerSecond) = throughput.Rates();
            pending.Add(p);
            step++;
            if (step % Math.Max(1, _cfg.LogEvery) == 0 || step == _cfg.MaxSteps) Flush();
            if (step % Math.Max(1, _cfg.CheckpointEvery) == 0 && step < _cfg.MaxSteps) { Flush(); Save(); lastSaved = step; }
        }
        Flush();
        // A run whose last step or weights are not finite must not end as a model (final/) or a checkpoint to resume.
        if (lastStep is { } last && !double.IsFinite(last.Loss))
            throw new TrainingException($"the run ended with a NaN/Inf loss at step {last.Step}: no final model or checkpoint was written for it; " +
                $"lower learning_rate or check the data, then --resume from {lastCheckpoint ?? "a new run"}");
        if (step > startStep && NonFiniteWeights.First(ModelWeights(), device) is { } broken)
            throw new TrainingException($"the weights hold NaN/Inf values after step {step - 1} (first in '{broken}'): no final model or checkpoint was written for it; " +
                $"lower learning_rate or check the data, then --resume from {lastCheckpoint ?? "a new run"}");
        if (lastSaved != step) Save();
        string? finalDir = null;
        if (!interrupted && IsRoot)
        {
            finalDir = Path.Combine(run, RunLayout.Final);
            using var scope = NewDisposeScope();
            WriteFinal(finalDir, masters);
        }
        var all = IsRoot && File.Exists(Path.Combine(run, RunLayout.Metrics)) ? MetricsLog.Read(Path.Combine(run, RunLayout.Metrics)) : [];
        if (all.Count > 0) LossCurvePlot.Save(all, Path.Combine(run, "loss.png"), $"{_cfg.Stage} loss");
        if (all.Count > 0 && double.IsNaN(firstLoss)) firstLoss = all.First(m => !m.Skipped).Loss;
        int skippedTotal = (int)skipped.item<float>();
        return new TrainingResult(step, startStep, !interrupted, interrupted, skippedTotal, firstLoss, lastLoss,
            elapsedBefore + clock.Elapsed.TotalSeconds, tokensSeen, finalDir, lastCheckpoint)
        {
            CommunicationSeconds = _c is MpiCollective mpi ? mpi.CommunicationTime.TotalSeconds : 0,
        };
    }

    /// <summary>True on every rank when <paramref name="mine"/> is true on any.</summary>
    bool AnyRank(bool mine)
    {
        using var flag = tensor(mine ? 1f : 0f);
        _c.AllReduceSum([flag]);
        return flag.item<float>() > 0;
    }

    /// <summary>This rank's part of a checkpoint's trainer state: its loader position and CPU RNG.</summary>
    JsonObject RankPosition()
    {
        using var rng = get_rng_state();
        return new JsonObject { ["data"] = _data.SavePosition().DeepClone(), ["cpu_rng_state"] = Convert.ToBase64String(rng.bytes) };
    }

    /// <summary>The optimizer shard of <paramref name="rank"/> in a sharded checkpoint.</summary>
    string ShardFile(int rank) => $"optimizer.rank{rank:D5}-of-{_c.WorldSize:D5}.safetensors";

    static void WriteAtomicSafetensors(IEnumerable<(string Name, Tensor Tensor)> tensors, string path)
    {
        SafetensorsExport.Save(tensors, path + ".partial");
        File.Move(path + ".partial", path, overwrite: true);
    }

    /// <summary>Work of one optimiser step over all ranks: positions (ids + visual tokens, padding included), images, estimated FLOPs.</summary>
    readonly record struct StepWork(long Positions, int Images, double Flops);

    (PendingStep, StepWork) RunStep(int step, int accum, MasterWeights masters, IMasterOptimizer optimizer, WarmupCosineSchedule schedule, Tensor inRow, Tensor skipped)
    {
        var device = _o.Device;
        long microSequences = 0;
        try
        {
            using var scope = NewDisposeScope();
            var batches = new List<VlmBatch>(accum);
            for (int k = 0; k < accum; k++) batches.Add(_data.Next());   // CPU tensors, owned by this scope
            microSequences = batches[0].InputIds.shape[0];
            var padding = zeros(1, dtype: ScalarType.Float32).squeeze();   // on the CPU, with the batches
            long positions = 0;
            int images = 0;
            int vt = _model.VisualTokensPerImage;
            foreach (var b in batches)
            {
                padding.add_(TrailingPadding(b.Labels), CachedScalars.One);
                int n = b.PixelValues is null ? 0 : (int)b.PixelValues.shape[0];
                images += n;
                positions += b.InputIds.numel() + (long)n * (vt - 1);
            }
            var (lossSum, denom) = GradientAccumulation.Run(_model, masters, batches, _c, device);
            var grads = masters.Grads();
            var (norm, apply) = GradientClipping.ClipAndCheck(grads, _cfg.GradClipNorm, lossSum);
            double lr = schedule.LearningRate(step);
            optimizer.Step(grads, lr, apply);
            masters.CopyToModel();
            masters.ZeroGrads();
            // Every Scalar held over its call (see CachedScalars).
            using var positionCount = positions.ToScalar();
            using (no_grad())
            {
                var missed = -(apply - CachedScalars.One);   // 1 - apply
                inRow.add_(CachedScalars.One, alpha: CachedScalars.One).mul_(missed);
                skipped.add_(missed, alpha: CachedScalars.One);
            }
            long rows = batches.Sum(b => b.InputIds.shape[0]);
            double flops = rows * FlopEstimate.PerSequence(_model.Shape, positions / rows, (int)Math.Round((double)images / rows), _cfg.TrainVision, _cfg.TrainLlm) * _c.WorldSize;
            int world = _c.WorldSize;
            return (new PendingStep
            {
                Step = step, Lr = lr,
                Loss = (lossSum / denom).DetachFromDisposeScope(),
                Norm = norm.DetachFromDisposeScope(),
                Apply = apply.DetachFromDisposeScope(),
                Padding = padding.div(positionCount).DetachFromDisposeScope(),
            }, new StepWork(positions * world, images * world, flops));
        }
        catch (Exception e) when (IsOutOfMemory(e))
        {
            throw new TrainingException($"out of memory at step {step} with micro_batch_sequences = {microSequences} and activation_checkpointing = " +
                $"{_cfg.ActivationCheckpointing.ToString().ToLowerInvariant()}: lower the micro-batch (--set micro_batch_sequences=N; the global batch is kept by more accumulation)" +
                (_cfg.ActivationCheckpointing ? "." : " or turn on --set activation_checkpointing=true."), e);
        }
    }

    static bool IsOutOfMemory(Exception e) =>
        e is OutOfMemoryException || (e is ExternalException or InvalidOperationException && e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase));

    /// <summary>Positions after the last target token of each row (the right padding), summed.</summary>
    static Tensor TrailingPadding(Tensor labels)
    {
        long len = labels.shape[1];
        // Explicit Scalars held to the end of the method (see CachedScalars).
        using var length = len.ToScalar();
        using var end = (len + 1).ToScalar();
        var idx = arange(CachedScalars.One, end, CachedScalars.One, dtype: ScalarType.Int64, device: labels.device);
        var lastTarget = (labels.ne(CachedScalars.IgnoreIndex).to(ScalarType.Int64) * idx).amax([1]);
        return (-(lastTarget - length)).sum().to(ScalarType.Float32);   // len - lastTarget
    }

    /// <summary>Every weight the model computes with, by key (trainable ones mirror their fp32 masters).</summary>
    List<(string Name, Tensor Tensor)> ModelWeights() => _model.Parameters().Select(p => (p.Key, (Tensor)p.Parameter)).ToList();

    /// <summary>
    /// What would make the checkpoint in <paramref name="dir"/> fail to load, checked before anything is read: each saved
    /// component's file with every parameter at its shape, the optimizer file's header, the RNG state's size.
    /// </summary>
    string? CheckpointProblem(string dir, TrainerState state)
    {
        int world = _c.WorldSize, zero = Sharded ? 1 : 0;
        if (state.WorldSize != world)
            throw new TrainingException($"--resume: {dir} was written by {state.WorldSize} rank(s), this run has {world}: resume with the same number of ranks " +
                $"(--nproc {state.WorldSize} or mpirun -np {state.WorldSize}); its loader positions and optimizer shards are per rank");
        if (world > 1 && state.ZeroStage != zero)
            throw new TrainingException($"--resume: {dir} was written with zero_stage {state.ZeroStage}, this run has {zero}: resume with --set zero_stage={state.ZeroStage}");
        foreach (var c in SavedComponents())
        {
            var expected = _model.Parameters().Where(p => p.Component == c).Select(p => (p.Name, p.Parameter.shape)).ToList();
            if (CheckpointFiles.Problem(Path.Combine(dir, FileOf(c)), expected) is { } problem) return problem;
        }
        if (CheckpointFiles.Problem(Path.Combine(dir, Sharded ? ShardFile(_c.Rank) : OptimizerFile), []) is { } optimizerProblem) return optimizerProblem;
        using var rng = get_rng_state();
        if (state.CpuRngState.Length != rng.bytes.Length)
            return $"{TrainerState.FileName} cpu_rng_state has {state.CpuRngState.Length} bytes, this libtorch's has {rng.bytes.Length}";
        return null;
    }

    const string OptimizerFile = "optimizer.safetensors";

    IEnumerable<ModelComponent> SavedComponents() =>
        Enum.GetValues<ModelComponent>().Where(c => _trained.Contains(c) || _o.SaveFrozenComponents);

    /// <summary>Weights of one component under their HF names: fp32 masters for trained ones, model weights for frozen ones.</summary>
    IEnumerable<(string Name, Tensor Tensor)> ComponentWeights(ModelComponent c, MasterWeights masters)
    {
        var master = masters.Entries.ToDictionary(e => e.Key, e => e.Master);
        foreach (var p in _model.Parameters().Where(p => p.Component == c))
            yield return (p.Name, master.TryGetValue(p.Key, out var m) ? m : p.Parameter);
    }

    static string FileOf(ModelComponent c) => c switch
    {
        ModelComponent.Llm => RunLayout.LlmWeights,
        ModelComponent.Projector => RunLayout.ProjectorWeights,
        _ => RunLayout.VisionWeights,
    };

    /// <param name="positions">with several ranks, each rank's <see cref="RankPosition"/> (JSON), by rank</param>
    void SaveCheckpoint(string dir, int step, MasterWeights masters, IMasterOptimizer optimizer, Tensor inRow, Tensor skipped, double elapsed, IReadOnlyList<string>? positions)
    {
        foreach (var c in SavedComponents())
            SafetensorsExport.Save(ComponentWeights(c, masters), Path.Combine(dir, FileOf(c)));
        if (!Sharded) SafetensorsExport.Save(optimizer.StateTensors(), Path.Combine(dir, OptimizerFile));
        File.WriteAllText(Path.Combine(dir, RunLayout.Config), _cfg.ToJson());
        using var rng = get_rng_state();
        new TrainerState
        {
            Step = step,
            WorldSize = _c.WorldSize,
            ZeroStage = Sharded ? 1 : 0,
            DataPosition = positions is null ? _data.SavePosition() : new JsonObject { ["ranks"] = new JsonArray([.. positions.Select(p => JsonNode.Parse(p))]) },
            CpuRngState = rng.bytes.ToArray(),
            NonFiniteInRow = (int)inRow.item<float>(),
            NonFiniteSkippedTotal = (int)skipped.item<float>(),
            ElapsedSeconds = elapsed,
        }.Save(dir);
    }

    TrainerState LoadCheckpoint(string dir, TrainerState state, MasterWeights masters, IMasterOptimizer optimizer)
    {
        var master = masters.Entries.ToDictionary(e => e.Key, e => e.Master);
        using (no_grad())
        {
            foreach (var c in SavedComponents())
            {
                string path = Path.Combine(dir, FileOf(c));
                if (!File.Exists(path)) throw new TrainingException($"{dir}: checkpoint lacks {FileOf(c)}");
                using var file = SafetensorsFile.Open(path);
                foreach (var p in _model.Parameters().Where(p => p.Component == c))
                {
                    if (!file.Contains(p.Name)) throw new TrainingException($"{path}: no tensor '{p.Name}'");
                    using var t = SafetensorsTensors.Read(file, p.Name);
                    var target = master.TryGetValue(p.Key, out var m) ? m : p.Parameter;
                    if (!t.shape.SequenceEqual(target.shape)) throw new TrainingException($"{path}: '{p.Name}' has shape [{string.Join(",", t.shape)}], model has [{string.Join(",", target.shape)}]");
                    target.copy_(t);
                }
            }
            using var opt = SafetensorsFile.Open(Path.Combine(dir, Sharded ? ShardFile(_c.Rank) : OptimizerFile));
            optimizer.LoadState(name => opt.Contains(name) ? SafetensorsTensors.Read(opt, name) : null);
        }
        masters.CopyToModel();
        var (position, rngState) = (state.DataPosition, state.CpuRngState);
        if (_c.WorldSize > 1)
        {
            var mine = (state.DataPosition["ranks"] as JsonArray)?.ElementAtOrDefault(_c.Rank) as JsonObject
                ?? throw new TrainingException($"{dir}: {TrainerState.FileName} has no data position of rank {_c.Rank}");
            position = mine["data"] ?? throw new TrainingException($"{dir}: {TrainerState.FileName} has no data position of rank {_c.Rank}");
            rngState = Convert.FromBase64String(mine["cpu_rng_state"]?.GetValue<string>() ?? throw new TrainingException($"{dir}: {TrainerState.FileName} has no RNG state of rank {_c.Rank}"));
        }
        _data.RestorePosition(position.DeepClone());
        using var rng = tensor(rngState);
        set_rng_state(rng);
        return state;
    }

    /// <summary>
    /// The exported model (<see cref="RunLayout"/>): every component's weights under HF names (trained ones from the fp32
    /// masters) in llm/, vision/ and projector.safetensors, then the configs, tokenizer and manifest the caller writes;
    /// built in a temp folder and renamed into place, so final/ is complete or absent.
    /// </summary>
    void WriteFinal(string finalDir, MasterWeights masters)
    {
        string tmp = finalDir + ".tmp";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(Path.Combine(tmp, RunLayout.ModelLlm));
        Directory.CreateDirectory(Path.Combine(tmp, RunLayout.ModelVision));
        SafetensorsExport.Save(ComponentWeights(ModelComponent.Llm, masters), Path.Combine(tmp, RunLayout.ModelLlm, RunLayout.HfWeights));
        SafetensorsExport.Save(ComponentWeights(ModelComponent.Vision, masters), Path.Combine(tmp, RunLayout.ModelVision, RunLayout.HfWeights));
        SafetensorsExport.Save(ComponentWeights(ModelComponent.Projector, masters), Path.Combine(tmp, RunLayout.ModelProjector));
        _o.WriteModelFiles?.Invoke(tmp);
        if (Directory.Exists(finalDir)) Directory.Delete(finalDir, true);
        Directory.Move(tmp, finalDir);
    }

    static void WriteAtomic(string path, string text)
    {
        File.WriteAllText(path + ".tmp", text);
        File.Move(path + ".tmp", path, overwrite: true);
    }
}

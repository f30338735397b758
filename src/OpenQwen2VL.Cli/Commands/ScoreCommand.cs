using System.CommandLine;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Curation.Scoring;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Model.Vlm;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>`oqvl score`: model-based scores of every image-caption pair, one parquet per input shard, resumable, split over ranks.</summary>
public sealed class ScoreCommand : ICliCommand
{
    public Command Build()
    {
        var input = new Option<string>("--input")
        {
            Description = "image-caption shards: a folder from oqvl synth or curate, a folder of .tar shards, or a spec data/{00000..00999}.tar",
            Required = true, HelpName = "DIR|SPEC",
        };
        var scorer = new Option<string>("--scorer")
        {
            Description = "siglip: a published HF SigLIP folder (both towers, spiece.model): cosine similarity and sigmoid probability; " +
                "mlm-filter: a VLM rating each pair 0-100 per metric with MLM-Filter's prompts (greedy, up to 4 tokens or a line break)",
            Required = true,
        };
        scorer.AcceptOnlyFromAmong(SiglipPairScorer.ScorerName, MlmFilterPairScorer.ScorerName);
        var model = CommonOptions.Model("siglip: an HF SigLIP folder (config.json, model.safetensors, spiece.model); mlm-filter: an HF LLaVA-Qwen folder " +
            "(MLM-Filter's, with --vision), a model folder, a run folder or a released .pt (or --llm/--vision/--projector)");
        var llm = CommonOptions.Llm();
        var vision = CommonOptions.Vision();
        var projector = CommonOptions.Projector();
        var tokenizer = CommonOptions.Tokenizer();
        var metrics = new Option<string>("--metrics") { Description = "mlm-filter metrics, comma-separated: su (semantic understanding), itm (image-text matching), odf (object detail fulfilment), ctq (caption text quality), or all", DefaultValueFactory = _ => "su" };
        var output = CommonOptions.Out("output folder: NAME.parquet and NAME.stats.json per input shard, then stats.json, histograms, manifest.json");
        var batch = CommonOptions.Positive("--batch", "pairs per forward pass", 32);
        var rank = new Option<int?>("--rank") { Description = "this worker's rank (with --world; default: Slurm array or MPI environment, else 0)" };
        var world = new Option<int?>("--world") { Description = "number of workers; worker R scores shards R, R+W, R+2W, ..." };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var maxMember = CommonOptions.MaxMemberBytes();
        var decodeBudget = CommonOptions.DecodeBudgetMib();

        var cmd = new Command("score", "Score image-caption pairs with a model (SigLIP similarity, MLM-Filter ratings); one parquet per shard, skip shards already scored");
        foreach (var o in new Option[] { input, scorer, model, llm, vision, projector, tokenizer, metrics, output, batch, rank, world, device, dtype, maxMember, decodeBudget }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var shards = ShardInputs.Resolve(r.GetValue(input)!, "score --input");
            WorkerRank worker;
            try { worker = WorkerRank.Resolve(r.GetValue(rank), r.GetValue(world)); }
            catch (ArgumentException e) { throw new CliUserException(e.Message); }
            var torchDevice = CommonOptions.ToDevice(r.GetValue(device)!);
            var scalarType = r.GetValue(dtype).ToScalarType();
            LoadedVlm? vlm = null;
            IPairScorer pairScorer;
            if (r.GetValue(scorer) == SiglipPairScorer.ScorerName)
            {
                string modelDir = r.GetValue(model) ?? throw new CliUserException("--scorer siglip needs --model: an HF SigLIP folder (config.json, model.safetensors, spiece.model)");
                if (!Directory.Exists(modelDir)) throw new CliUserException($"--model: folder not found: {modelDir}");
                pairScorer = SiglipPairScorer.Load(modelDir, torchDevice, scalarType);
            }
            else
            {
                IReadOnlyList<MlmFilterMetric> chosen;
                try { chosen = MlmFilterMetric.Parse(r.GetValue(metrics)!); }
                catch (ArgumentException e) { throw new CliUserException(e.Message); }
                var source = ModelSourceResolver.Resolve(new ModelRequest
                {
                    Model = r.GetValue(model), Llm = r.GetValue(llm), Vision = r.GetValue(vision), Projector = r.GetValue(projector),
                    Tokenizer = r.GetValue(tokenizer), Warn = Console.Error.WriteLine,
                });
                // MLM-Filter reads the whole patch grid (no pooling) unless the model says otherwise.
                vlm = VlmLoader.Load(source, new VlmLoadSettings { DType = scalarType, Device = torchDevice });
                Console.Error.WriteLine($"model: {source.Description}; {vlm.VisualTokens} visual tokens per image; metrics {string.Join(", ", chosen.Select(m => m.Column))}");
                pairScorer = new MlmFilterPairScorer(vlm.Model, vlm.Tokenizer, vlm.Preprocessor, chosen);
            }
            using var disposeVlm = vlm;
            using var disposeScorer = pairScorer;
            var options = new ScoreJobOptions
            {
                Shards = shards.Paths, OutputDir = r.GetValue(output)!, BatchSize = r.GetValue(batch), Rank = worker,
                MaxMemberBytes = r.GetValue(maxMember), ImageLimits = ImageLimits.Default.WithDecodeBudget(r.GetValue(decodeBudget)),
            };
            ScoreJobResult result = null!;
            LiveProgress.Run(AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn()),
                ctx =>
                {
                    var task = ctx.AddTask($"score shards (rank {worker.Rank} of {worker.World})", maxValue: Math.Max(1, (shards.Paths.Count + worker.World - 1 - worker.Rank) / worker.World));
                    var started = DateTime.UtcNow;
                    var progress = new SynchronousProgress<ScoreProgress>(p =>
                    {
                        double secs = Math.Max(1e-3, (DateTime.UtcNow - started).TotalSeconds);
                        task.Value = p.ShardsDone;
                        task.Description = $"score shards: {p.ShardsDone}/{p.ShardsTotal}, {p.Pairs:N0} pairs, {p.Pairs / secs:N1} pairs/s ({Markup.Escape(p.Shard)})";
                    });
                    result = ScoreJob.Run(pairScorer, options, shards.Lineage, progress);
                    task.Value = task.MaxValue;
                });
            Print(result, worker, options.OutputDir);
            return result.RankStats.IsBalanced ? 0 : 1;
        });
        return cmd;
    }

    private static void Print(ScoreJobResult r, WorkerRank worker, string outDir)
    {
        var table = new Table().Title("score summary").AddColumns("", "value");
        table.AddRow("worker", $"rank {worker.Rank} of {worker.World} ({Markup.Escape(worker.Source)})");
        table.AddRow("shards of this rank", $"{r.ShardsOfRank:N0} ({r.ShardsScored:N0} scored now, {r.ShardsAlreadyComplete:N0} already complete)");
        table.AddRow("input samples", $"{r.RankStats.Input:N0}");
        table.AddRow("scored", $"{r.RankStats.Kept:N0}");
        foreach (var (reason, n) in r.RankStats.Skipped) table.AddRow($"skipped: {Markup.Escape(reason)}", $"{n:N0}");
        table.AddRow("time", $"{r.Seconds:N1} s ({r.PairsScored / Math.Max(1e-3, r.Seconds):N1} pairs/s scored now)");
        table.AddRow("balanced (input = scored + skipped)", r.RankStats.IsBalanced ? "yes" : "[red]NO[/]");
        if (r.Summary?["columns"]?.AsObject() is { } columns)
            foreach (var (name, c) in columns)
                table.AddRow($"{Markup.Escape(name)}", c?["scored"] is null ? "" : $"{c["scored"]} scored, {c["missing"]} missing, median {(double?)c["median"]:F4}");
        AnsiConsole.Write(table);
        Console.WriteLine(r.Summary is null
            ? $"wrote this rank's score files to {outDir}; the rank that completes the last shard writes stats.json, the histograms and manifest.json"
            : $"wrote {outDir} (score parquets, stats.json, {r.Histograms.Count} histogram PNGs, manifest.json)");
    }
}

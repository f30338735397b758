using System.CommandLine;
using System.Diagnostics;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Synthetic;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>`oqvl synth`: procedural shapes data in the real formats (pre-training shards, LLaVA SFT JSON, VQAv2 eval).</summary>
public sealed class SynthCommand : ICliCommand
{
    public Command Build()
    {
        var defaults = new SyntheticDatasetOptions();
        var outDir = CommonOptions.Out("output folder (pretrain/ shards, sft/, eval/, manifest.json)");
        var seed = CommonOptions.Seed("random seed (same seed, same bytes)");
        var pretrain = new Option<int>("--pretrain") { Description = "Pre-training image-caption pairs", DefaultValueFactory = _ => defaults.PretrainPairs }.AtLeast(1);
        var sft = new Option<int>("--sft") { Description = "SFT records (LLaVA JSON; questions, multi-image chats, captions)", DefaultValueFactory = _ => defaults.SftRecords }.AtLeast(0);
        var interleaved = new Option<int>("--interleaved") { Description = "OBELICS-style interleaved documents (interleaved/docs.jsonl, images inline) for pack --format interleaved", DefaultValueFactory = _ => defaults.InterleavedDocuments }.AtLeast(0);
        var evalImages = new Option<int>("--eval-images") { Description = "Evaluation images", DefaultValueFactory = _ => defaults.EvalImages }.AtLeast(1);
        var perImage = new Option<int>("--questions-per-image") { Description = "Evaluation questions per image (1-4)", DefaultValueFactory = _ => defaults.QuestionsPerEvalImage }.InRange(1, Enum.GetValues<VqaQuestionType>().Length);
        var noise = new Option<double>("--noise") { Description = "Fraction of pre-training captions swapped for wrong ones", DefaultValueFactory = _ => defaults.NoiseFraction }.InRange(0.0, 1.0);
        var disagreement = new Option<double>("--disagreement") { Description = "Per-annotator probability of departing from the true answer", DefaultValueFactory = _ => defaults.AnnotatorDisagreement };
        var imageSize = new Option<int>("--image-size") { Description = "Image side in pixels", DefaultValueFactory = _ => defaults.ImageSize }.InRange(16, 1024);
        var shardSize = new Option<int>("--shard-size") { Description = "Samples per pre-training shard", DefaultValueFactory = _ => defaults.SamplesPerShard }.InRange(1, 10000);

        var cmd = new Command("synth", "Generate procedural shapes data: WebDataset pre-training shards (with known caption noise), LLaVA SFT JSON, VQAv2-style evaluation");
        foreach (var o in new Option[] { outDir, seed, pretrain, sft, interleaved, evalImages, perImage, noise, disagreement, imageSize, shardSize }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var options = new SyntheticDatasetOptions
            {
                Seed = r.GetValue(seed), PretrainPairs = r.GetValue(pretrain), SftRecords = r.GetValue(sft), InterleavedDocuments = r.GetValue(interleaved),
                EvalImages = r.GetValue(evalImages), QuestionsPerEvalImage = r.GetValue(perImage),
                NoiseFraction = r.GetValue(noise), AnnotatorDisagreement = r.GetValue(disagreement),
                ImageSize = r.GetValue(imageSize), SamplesPerShard = r.GetValue(shardSize),
            };
            try { options.Validate(); }
            catch (ArgumentException e) { throw new CliUserException(e.Message); }
            var sw = Stopwatch.StartNew();
            var data = SyntheticDatasetGenerator.Generate(options);
            var layout = SyntheticDatasetWriter.Write(data, r.GetValue(outDir)!);
            var output = r.InvocationConfiguration.Output;
            output.WriteLine($"synth: {data.Pretrain.Count} pre-training pairs ({data.Pretrain.Count(p => p.IsNoise)} with wrong captions), " +
                $"{data.Sft.Count} SFT conversations, {options.InterleavedDocuments} interleaved documents, {data.EvalQuestions.Count} eval questions on {data.EvalImages.Count} images in {sw.Elapsed.TotalSeconds:F1}s");
            output.WriteLine($"  manifest: {layout.Manifest} (give the folder to curate --input, pack --input, train --data, evaluate --data)");
            return 0;
        });
        return cmd;
    }
}

using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Evaluation.Vqa;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Tests.Shards;

namespace OpenQwen2VL.Tests.Evaluation;

/// <summary>Issue 13: a model answers in batches, and the answers (and skips) do not depend on the batch size.</summary>
[Collection(TorchGlobalState.Name)]
public sealed class VlmAnswerGeneratorBatchTests
{
    [Fact]
    public void AnswersDoNotDependOnTheBatchSize()
    {
        using var dir = new TempDir();
        var options = new SyntheticDatasetOptions { Seed = 3, PretrainPairs = 2, SftRecords = 0, EvalImages = 4, QuestionsPerEvalImage = 2, ImageSize = 32 };
        var layout = SyntheticDatasetWriter.Write(SyntheticDatasetGenerator.Generate(options), dir.Path);
        var data = VqaDataset.Load(layout.EvalQuestions, layout.EvalAnnotations, layout.EvalImageRoot);
        File.WriteAllBytes(data.Items[2].ImagePath, [1, 2, 3]); // one unreadable image: its questions are counted skips

        var tokenizer = MultimodalTokens.LoadTokenizer(ReferenceFixtures.File("tokenizer.json"));
        using var vlm = VisionLanguageModel.CreateRandom(VlmConfig.Tiny(tokenizer.VocabSize), seed: 5);
        vlm.eval();
        var generator = new VlmAnswerGenerator("tiny", vlm, tokenizer, ImagePreprocessor.ResizeNaive(vlm.Config.Vision.ImageSize), prependBos: true);
        VqaEvaluationResult Run(int batch, int shots) =>
            VqaEvaluationRunner.Run(data, generator, new VqaEvaluationOptions { Name = "t", Shots = shots, Limit = 6, BatchSize = batch });

        foreach (int shots in new[] { 0, 1 })
        {
            var one = Run(1, shots);
            var batched = Run(4, shots);
            Assert.Equal(one.Predictions.Select(p => (p.Item.QuestionId, p.RawAnswer)), batched.Predictions.Select(p => (p.Item.QuestionId, p.RawAnswer)));
            Assert.Equal(one.Skipped, batched.Skipped);
            Assert.NotEmpty(batched.Skipped);
        }
    }
}

using System.Globalization;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>
/// VQAv2 (zero-shot) behind <see cref="IBenchmark"/>, so a suite can run it beside the others: the same files and
/// metric as <c>oqvl evaluate --benchmark vqav2</c> (<see cref="VqaDataset"/>; vqaEval.py's per-question accuracy on the
/// EvalAI-processed answer, <see cref="VqaAccuracy"/>), with a per-answer-type breakdown. Few-shot, results files and
/// baselines stay with <see cref="VqaEvaluationRunner"/>.
/// </summary>
public sealed class Vqav2Benchmark : IBenchmark
{
    private Vqav2Benchmark(VqaDataset data) =>
        (Items, ItemsRead, SkippedOnLoad) = (data.Items.Select(i => new BenchmarkItem(i.QuestionId.ToString(CultureInfo.InvariantCulture), i.Question,
            [i.ImagePath], i.Answers, i.AnswerType)).ToArray(), data.QuestionsRead, data.Skipped);

    public string Name => "vqav2";
    public string Metric => "vqa_accuracy";
    public IReadOnlyList<BenchmarkItem> Items { get; }
    public int ItemsRead { get; }
    public IReadOnlyDictionary<string, int> SkippedOnLoad { get; }

    public static Vqav2Benchmark Load(string questions, string annotations, string images) => new(VqaDataset.Load(questions, annotations, images));

    /// <summary>The evaluation split of a folder written by <c>oqvl synth</c> (its manifest names the three parts).</summary>
    public static Vqav2Benchmark LoadSynthetic(string folder)
    {
        var m = StageManifest.Read(folder).RequireKind("a vqav2 benchmark", StageKinds.Synthetic);
        return Load(m.RequireFile("eval_questions"), m.RequireFile("eval_annotations"), m.RequireFile("eval_images"));
    }

    public string PromptText(BenchmarkItem item, VqaPromptStyle style) => ShortAnswerPrompt.Text(item.Question, style);

    public string Answer(string generated, EvaluationProtocol protocol) => protocol.Answer(generated, EvalAiAnswerProcessor.Process);

    public double Score(BenchmarkItem item, string answer) => VqaAccuracy.Score(answer, item.References);

    public IReadOnlyList<SummaryRow> Summarize(IReadOnlyList<BenchmarkPrediction> predictions) =>
        BenchmarkSummaries.MeanWithCategories(Metric, predictions);
}

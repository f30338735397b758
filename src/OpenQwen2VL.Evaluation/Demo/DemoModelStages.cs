using OpenQwen2VL.Curation.Filtering;
using OpenQwen2VL.Curation.Synth;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Evaluation.Demo;

/// <summary>
/// The demo's engine stages as far as the merged engines go. Packing plans the sequences for real (the
/// tokenizer and First-Fit-Decreasing are merged); writing packed shards, training and VLM generation wait
/// for the training and model branches: each of those methods is the one place to wire them.
/// </summary>
public class DemoModelStages : IDemoModelStages
{
    public virtual PackedData? Pack(DemoOptions options, CurationResult curated, string workDir, Action<string> log, out StageNotRun? notRun)
    {
        notRun = null;
        if (options.TokenizerPath is null) { notRun = new("pack", "no tokenizer.json given"); return null; }
        var tokenizer = BpeTokenizer.Load(options.TokenizerPath);
        // Pre-training sample text: "<s><image>\n{caption}<|im_end|>"; the image marker becomes the visual tokens.
        var lengths = new List<int>();
        foreach (var shard in ShardSpec.Expand(curated.KeptShardSpec))
            foreach (var s in WebDatasetReader.Read(shard))
                if (Img2DatasetParser.TryParse(s, out var p, out _))
                    lengths.Add(Math.Min(options.PackCapacity, tokenizer.Encode($"<s><image>\n{p!.Caption}<|im_end|>").Length - 1 + options.PretrainVisualTokens));
        var packing = FirstFitDecreasing.Pack(lengths.ToArray(), options.PackCapacity);
        log($"packed {lengths.Count} samples into {packing.BinCount} sequences of {options.PackCapacity} tokens, fill {100 * packing.FillRatio:F1}%");
        // TODO(lead): write the packed sequences with the shards branch's packed-data writer; this is the plan only.
        return new PackedData(curated.KeptShardSpec, packing.BinCount, lengths.Count, options.PackCapacity, packing.TotalLoad, packing.FillRatio);
    }

    public virtual TrainedModel? Pretrain(DemoOptions options, PackedData packed, string workDir, Action<string> log, out StageNotRun? notRun)
    {
        notRun = new("pretrain", "training engine not merged yet (branch training)");
        return null;
    }

    public virtual TrainedModel? Sft(DemoOptions options, TrainedModel pretrained, SyntheticDatasetLayout data, string workDir, Action<string> log, out StageNotRun? notRun)
    {
        notRun = new("sft", "training engine not merged yet (branch training)");
        return null;
    }

    public virtual IVqaAnswerGenerator? Generator(DemoOptions options, TrainedModel model, string name, out StageNotRun? notRun)
    {
        notRun = new("generate", "VLM generation not merged yet (branch model)");
        return null;
    }
}

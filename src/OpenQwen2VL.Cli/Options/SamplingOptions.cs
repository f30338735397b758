using System.CommandLine;
using System.CommandLine.Parsing;
using OpenQwen2VL.Model.Generation;

namespace OpenQwen2VL.Cli.Options;

/// <summary>
/// The decoding options of <c>oqvl generate</c>: greedy unless <c>--sample</c>; <c>--temperature</c>, <c>--top-p</c>,
/// <c>--top-k</c> shape the sampled distribution (and need <c>--sample</c>), <c>--repetition-penalty</c> applies to
/// both, <c>--seed</c> makes a sampled run repeat, <c>--stop</c> ends generation at a string. Ranges are parse-time
/// errors of one line.
/// </summary>
public sealed class SamplingOptions
{
    public Option<bool> Sample { get; } = new("--sample") { Description = "sample tokens instead of greedy decoding" };
    public Option<double?> Temperature { get; } = new Option<double?>("--temperature") { Description = "divide logits by this before sampling (> 0; default 1)", HelpName = "T" }.InRange(0, double.MaxValue, minExclusive: true);
    public Option<double?> TopP { get; } = new Option<double?>("--top-p") { Description = "nucleus sampling: keep the likeliest tokens whose probability reaches P, in (0, 1] (default 1: off)", HelpName = "P" }.InRange(0, 1, minExclusive: true);
    public Option<int?> TopK { get; } = new Option<int?>("--top-k") { Description = "sample among the K likeliest tokens (0: off, the default)", HelpName = "K" }.AtLeast(0);
    public Option<double> RepetitionPenalty { get; } = new Option<double>("--repetition-penalty") { Description = "HF repetition penalty over the tokens already in the sequence (> 0; 1: off)", DefaultValueFactory = _ => 1.0, HelpName = "X" }.InRange(0, double.MaxValue, minExclusive: true);
    public Option<int> Seed { get; } = CommonOptions.Seed("seed of --sample (same seed, same tokens)");
    public Option<string[]> Stop { get; } = new("--stop") { Description = "also stop once the generated text contains this string (repeatable)", DefaultValueFactory = _ => [], HelpName = "TEXT" };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Sample, Temperature, TopP, TopK, RepetitionPenalty, Seed, Stop }) command.Options.Add(o);
        Stop.Validators.Add(r =>
        {
            if ((r.GetValueOrDefault<string[]>() ?? []).Any(s => s.Length == 0)) r.AddError("--stop: an empty stop string would stop at once");
        });
        command.Validators.Add(r =>
        {
            if (r.GetValue(Sample)) return;
            foreach (var o in new Option[] { Temperature, TopP, TopK })
                if (r.GetResult(o) is not null)
                {
                    r.AddError($"{o.Name} applies to sampling only: add --sample");
                    return;
                }
        });
    }

    /// <summary>The validated options of a parsed command line.</summary>
    public GenerationOptions Options(ParseResult r, int maxNewTokens) => new()
    {
        MaxNewTokens = maxNewTokens,
        Sample = r.GetValue(Sample),
        Temperature = r.GetValue(Temperature) ?? 1.0,
        TopP = r.GetValue(TopP) ?? 1.0,
        TopK = r.GetValue(TopK) ?? 0,
        RepetitionPenalty = r.GetValue(RepetitionPenalty),
        Seed = r.GetValue(Seed),
    };

    /// <summary>The model's stop tokens plus the <c>--stop</c> strings, decoded with <paramref name="decode"/>.</summary>
    public StopCriteria StopCriteria(ParseResult r, IReadOnlyCollection<long> stopTokenIds, Func<IReadOnlyList<long>, string> decode) =>
        new(stopTokenIds, r.GetValue(Stop) ?? [], decode);
}

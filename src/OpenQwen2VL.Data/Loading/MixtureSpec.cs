using System.Globalization;
using System.Text.RegularExpressions;
using OpenQwen2VL.Data.Manifests;

namespace OpenQwen2VL.Data.Loading;

/// <summary>One source of a data mixture: its name, what <c>--data</c> would accept for it alone, and its weight.</summary>
public sealed record MixturePart(string Name, string Source, double Weight);

/// <summary>
/// A weighted data mixture as written on the command line: <c>NAME=SOURCE:WEIGHT,NAME=SOURCE:WEIGHT,...</c>, e.g.
/// <c>caption=packed_cc/:0.8,interleaved=packed_obelics/:0.2</c>. Names are identifiers (letters, digits, _ and -,
/// starting with a letter) and must differ; weights are positive numbers (normalised to sum to 1); a source is anything
/// <c>--data</c> takes on its own that holds no comma.
/// </summary>
public static partial class MixtureSpec
{
    [GeneratedRegex(@"^(?<name>[A-Za-z][A-Za-z0-9_-]*)=(?<source>.+):(?<weight>[^:]+)$")]
    private static partial Regex Part();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9_-]*=")]
    private static partial Regex Start();

    /// <summary>Whether <paramref name="spec"/> is written as a mixture (starts with <c>NAME=</c>).</summary>
    public static bool IsMixture(string spec) => Start().IsMatch(spec);

    /// <exception cref="StageContractException">a part that is not NAME=SOURCE:WEIGHT, a weight that is not a positive number, a repeated name</exception>
    public static IReadOnlyList<MixturePart> Parse(string spec)
    {
        var parts = new List<MixturePart>();
        foreach (var text in spec.Split(','))
        {
            var m = Part().Match(text.Trim());
            if (!m.Success)
                throw new StageContractException($"--data {spec}: '{text}' is not NAME=SOURCE:WEIGHT (a mixture is e.g. caption=packed_cc/:0.8,interleaved=packed_obelics/:0.2)");
            string name = m.Groups["name"].Value, weightText = m.Groups["weight"].Value;
            if (!double.TryParse(weightText, NumberStyles.Float, CultureInfo.InvariantCulture, out double weight) || !(weight > 0) || double.IsInfinity(weight))
                throw new StageContractException($"--data {spec}: the weight of '{name}' must be a positive number, got '{weightText}'");
            if (parts.Any(p => p.Name == name)) throw new StageContractException($"--data {spec}: the name '{name}' is given twice");
            parts.Add(new MixturePart(name, m.Groups["source"].Value, weight));
        }
        double total = parts.Sum(p => p.Weight);
        return [.. parts.Select(p => p with { Weight = p.Weight / total })];
    }
}

using System.Globalization;

namespace OpenQwen2VL.Synthetic;

/// <summary>
/// Turns a scene into a caption with one of several templates (word order, number as word or digit,
/// with or without size and background), so captions vary like alt-texts while staying true to the image.
/// </summary>
public static class CaptionTemplates
{
    public const int Count = 8;

    public static string Caption(Scene s, Random rng)
    {
        int template = rng.Next(Count);
        string number = rng.Next(2) == 0 ? SceneVocabulary.NumberWord(s.Count) : s.Count.ToString(CultureInfo.InvariantCulture);
        string noun = SceneVocabulary.Noun(s.Shape, s.Count);
        string color = s.Color.Name, size = SceneVocabulary.Word(s.Size), bg = s.Background.Name;
        string where = PositionPhrase(s.Position);
        string caption = template switch
        {
            0 => $"{number} {color} {noun} {where} on a {bg} background",
            1 => $"A {bg} picture with {number} {size} {color} {noun} {where}.",
            2 => $"{number} {size} {color} {noun} {where}",
            3 => $"There {(s.Count == 1 ? "is" : "are")} {number} {color} {noun} {where}, drawn on {bg}.",
            4 => $"{color} {noun} ({number}) {where}, {bg} backdrop",
            5 => $"Image of {number} {color} {noun} placed {where}.",
            6 => $"{size} {color} {noun} {where}: {number} in total",
            _ => $"A simple drawing: {number} {color} {noun} {where} over a plain {bg} background.",
        };
        return char.ToUpperInvariant(caption[0]) + caption[1..];
    }

    public static string PositionPhrase(ScenePosition p) => p switch
    {
        ScenePosition.Left => "on the left",
        ScenePosition.Right => "on the right",
        ScenePosition.Top => "at the top",
        ScenePosition.Bottom => "at the bottom",
        _ => "in the center",
    };
}

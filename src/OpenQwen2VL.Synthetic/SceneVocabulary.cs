namespace OpenQwen2VL.Synthetic;

/// <summary>The shapes a synthetic scene can hold.</summary>
public enum SceneShape { Circle, Square, Triangle, Star }

/// <summary>Where the group of shapes sits in the image (the answer of a position question).</summary>
public enum ScenePosition { Left, Right, Top, Bottom, Center }

/// <summary>Size class of the shapes.</summary>
public enum SceneSize { Small, Large }

/// <summary>A named colour. Object and background palettes are disjoint, so a bag of caption words never confuses them.</summary>
public sealed record SceneColor(string Name, byte R, byte G, byte B);

/// <summary>The words and palettes every synthetic scene, caption and question is built from.</summary>
public static class SceneVocabulary
{
    public static readonly IReadOnlyList<SceneColor> ObjectColors =
    [
        new("red", 220, 30, 30), new("green", 30, 170, 50), new("blue", 35, 70, 225),
        new("yellow", 240, 210, 20), new("purple", 140, 40, 180), new("orange", 245, 130, 20),
    ];

    public static readonly IReadOnlyList<SceneColor> BackgroundColors =
    [
        new("white", 250, 250, 250), new("gray", 128, 128, 128), new("black", 15, 15, 15), new("beige", 225, 205, 165),
    ];

    public static readonly IReadOnlyList<SceneShape> Shapes = Enum.GetValues<SceneShape>();
    public static readonly IReadOnlyList<ScenePosition> Positions = Enum.GetValues<ScenePosition>();

    public const int MinCount = 1;
    public const int MaxCount = 3;

    public static string Word(SceneShape shape) => shape.ToString().ToLowerInvariant();

    public static string Plural(SceneShape shape) => Word(shape) + "s";

    /// <summary>"circle" for one, "circles" for more.</summary>
    public static string Noun(SceneShape shape, int count) => count == 1 ? Word(shape) : Plural(shape);

    public static string Word(ScenePosition position) => position.ToString().ToLowerInvariant();

    public static string Word(SceneSize size) => size.ToString().ToLowerInvariant();

    private static readonly string[] NumberWords = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

    public static string NumberWord(int n) => n >= 0 && n < NumberWords.Length ? NumberWords[n] : n.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

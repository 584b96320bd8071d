//! Launch templates and images.

use super::{listed_tags, refused, scope, tag, Backend};
use model::Ec2Error;

/// Launch templates: a name is the scope's once; a change may add a version; deletion takes
/// the versions and tags with it. Images: registered, changed, their tags listed.
pub async fn templates_and_images_are_kept_per_scope<B: Backend>(b: &B) {
    use model::image::Image;
    use model::launch_template::{LaunchTemplate, LaunchTemplateVersion};
    let s = b.open().await;
    let t = LaunchTemplate {
        launch_template_id: "lt-0000000000000aaaa".into(),
        name: "web".into(),
        scope: scope(),
        create_time_ms: 1,
        created_by: "arn:aws:iam::123456789012:root".into(),
        default_version: 1,
        latest_version: 1,
        tags: vec![tag("team", "a")],
    };
    let version = |n: u64| LaunchTemplateVersion {
        launch_template_id: t.launch_template_id.clone(),
        version: n,
        description: None,
        create_time_ms: 1,
        created_by: t.created_by.clone(),
        data_json: "{}".into(),
        metadata: Default::default(),
    };
    s.create_template(&scope(), t.clone(), version(1))
        .await
        .unwrap();
    let twin = LaunchTemplate {
        launch_template_id: "lt-0000000000000bbbb".into(),
        ..t.clone()
    };
    assert_eq!(
        refused(s.create_template(&scope(), twin, version(1)).await),
        Ec2Error::InvalidLaunchTemplateNameAlreadyExists
    );
    let v2 = version(2);
    let (changed, added) = s
        .update_template(
            &scope(),
            &t.launch_template_id,
            Box::new(move |t| {
                t.latest_version = 2;
                t.tags = vec![tag("team", "b")];
                Ok(Some(v2))
            }),
        )
        .await
        .unwrap();
    assert_eq!(added, Some(version(2)));
    assert_eq!(s.templates(&scope()).await.unwrap(), vec![changed.clone()]);
    assert_eq!(
        s.template_versions(&scope(), &t.launch_template_id)
            .await
            .unwrap(),
        vec![version(1), version(2)]
    );

    let image = Image {
        image_id: "ami-0000000000000aaaa".into(),
        owner_id: "123456789012".into(),
        owner_alias: None,
        name: "golden".into(),
        description: None,
        architecture: "x86_64".into(),
        platform_details: "Linux/UNIX".into(),
        root_device_name: "/dev/xvda".into(),
        virtualization_type: "hvm".into(),
        ena_support: true,
        public: false,
        imds_support: None,
        creation_date: "2026-01-01T00:00:00.000Z".into(),
        tags: vec![tag("os", "linux")],
    };
    s.put_image(&scope(), image.clone()).await.unwrap();
    let changed_image = s
        .update_image(
            &scope(),
            &image.image_id,
            Box::new(|i| {
                i.imds_support = Some(model::image::ImdsSupport::V2_0);
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(s.images(&scope()).await.unwrap(), vec![changed_image]);
    assert_eq!(
        listed_tags(&*s).await,
        vec![
            format!("{} image os linux", image.image_id),
            format!("{} launch-template team b", t.launch_template_id),
        ]
    );
    assert!(matches!(
        refused(
            s.update_image(&scope(), "ami-0000000000000dead", Box::new(|_| Ok(())))
                .await
        ),
        Ec2Error::InvalidAmiIdNotFound(_)
    ));

    assert_eq!(
        s.delete_template(&scope(), &t.launch_template_id)
            .await
            .unwrap(),
        changed
    );
    assert!(s.templates(&scope()).await.unwrap().is_empty());
    assert!(matches!(
        refused(s.template_versions(&scope(), &t.launch_template_id).await),
        Ec2Error::InvalidLaunchTemplateIdNotFound(_)
    ));
    assert_eq!(listed_tags(&*s).await.len(), 1, "the image's tag stays");
    assert!(matches!(
        refused(s.delete_template(&scope(), &t.launch_template_id).await),
        Ec2Error::InvalidLaunchTemplateIdNotFound(_)
    ));
    s.close().await;
}

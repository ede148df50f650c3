use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FtpAccounts {
    Table,
    Id,
    Username,
    PasswordHash,
    Home,
    Permissions,
    PublicKeys,
    Uid,
    Gid,
    MaxSessions,
    QuotaSize,
    QuotaFiles,
    UsedQuotaSize,
    UsedQuotaFiles,
    LastQuotaUpdate,
    UploadBandwidth,
    DownloadBandwidth,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FtpAccounts::Table)
                    .col(big_pk_auto(FtpAccounts::Id))
                    .col(string_len_uniq(FtpAccounts::Username, 64))
                    .col(text(FtpAccounts::PasswordHash))
                    .col(text(FtpAccounts::Home))
                    .col(text(FtpAccounts::Permissions))
                    .col(text(FtpAccounts::PublicKeys).default("[]"))
                    .col(integer(FtpAccounts::Uid).default(0))
                    .col(integer(FtpAccounts::Gid).default(0))
                    .col(integer(FtpAccounts::MaxSessions).default(0))
                    .col(big_integer(FtpAccounts::QuotaSize).default(0))
                    .col(big_integer(FtpAccounts::QuotaFiles).default(0))
                    .col(big_integer(FtpAccounts::UsedQuotaSize).default(0))
                    .col(big_integer(FtpAccounts::UsedQuotaFiles).default(0))
                    .col(big_integer(FtpAccounts::LastQuotaUpdate).default(0))
                    .col(big_integer(FtpAccounts::UploadBandwidth).default(0))
                    .col(big_integer(FtpAccounts::DownloadBandwidth).default(0))
                    .col(timestamp_with_time_zone(FtpAccounts::CreatedAt))
                    .col(timestamp_with_time_zone(FtpAccounts::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(FtpAccounts::Table).to_owned()).await
    }
}
